/* doctor-port-scan.c: which mail port and security mode get through to a server.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every cell of the matrix is one connection with its own deadline counted from its start.
 * The first cell of every port and the control connection to port 443 start together, the
 * other cells of a port as soon as the port accepts a connection (see below), so the whole
 * scan takes about one timeout. A cell goes only as far as its mode needs:
 *   tls       connect, TLS handshake, greeting, QUIT (on port 25: connect, greeting, QUIT)
 *   starttls  connect, greeting, EHLO, STARTTLS, TLS handshake, QUIT
 *   none      connect, greeting, EHLO, QUIT
 * The certificate's trust (system store, plus the custom CA) is recorded, never relied on: no
 * cell sends anything that matters, and on an untrusted connection it sends nothing at all.
 *
 * The cells of one port tell each other apart: a plain or STARTTLS cell that gets no greeting
 * is a mode mismatch when the TLS cell of its port completed a handshake (it says so at once,
 * without waiting out its deadline), and a TLS cell whose handshake failed is one when a plain
 * cell of its port was greeted in plain text.
 *
 * Connections are made on a GSocket of the scan's own rather than with GSocketClient, so that
 * ICMP "administratively prohibited" can be told from "host unreachable": Linux's connect()
 * fails with EHOSTUNREACH for both, but with IP_RECVERR (IPV6_RECVERR) set before the connect,
 * the ICMP message itself (type, code, the address that sent it) waits in the socket's error
 * queue, read with recvmsg (MSG_ERRQUEUE). The option is turned off again once connected: with
 * it, an ICMP error on an established TCP connection would be a hard error. Observed on Linux
 * 6.x, two network namespaces joined by a veth pair, iptables INPUT rules in the server's:
 *   REJECT --reject-with icmp-admin-prohibited   EHOSTUNREACH, queue: ICMP 3/13 from the server
 *   REJECT --reject-with icmp-host-prohibited    EHOSTUNREACH, queue: ICMP 3/10
 *   REJECT --reject-with icmp-net-prohibited     ENETUNREACH,  queue: ICMP 3/9
 *   REJECT --reject-with icmp-host-unreachable   EHOSTUNREACH, queue: ICMP 3/1
 *   REJECT --reject-with icmp-port-unreachable   ECONNREFUSED, queue: ICMP 3/3
 *   REJECT --reject-with tcp-reset               ECONNREFUSED, queue empty
 *   DROP                                         nothing at all until the deadline
 * and the same with the rule in a router's FORWARD chain, the router's address as the sender.
 * ICMPv6 (type 1, code 1 administratively prohibited; 5 and 6, policy and reject route) is read
 * the same way; observed once on ::1 inside a namespace: ip6tables REJECT icmp6-adm-prohibited
 * gives EACCES (not EHOSTUNREACH) with ICMPv6 1/1 in the queue, icmp6-addr-unreachable 1/3,
 * icmp6-policy-fail 1/5; the tests use IPv4 only. Without the queue (not Linux, or no ICMP
 * kept) EHOSTUNREACH stays "unreachable" and EACCES "filtered" by this computer.
 *
 * An ICMP error sent by the probed address itself is the server's own firewall: for the
 * network-level conclusion that port counts as refused, not as blocked on the way.
 *
 * ICMP errors are rate-limited, by routers and by Linux itself (net.ipv4.icmp_ratelimit: a
 * burst of six, then about one a second to a peer): of eleven connections rejected at once,
 * most would only meet silence and look dropped. So every port first gets one connection, its
 * TLS cell (the leader); the port's other cells connect once the leader's connection is
 * accepted, and take the leader's result when it is refused, filtered or silent. Five SYNs
 * (four ports and the control) go out at once, well within a burst.
 */
#include "config.h"

#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <linux/errqueue.h>
#endif
#include <glib/gi18n-lib.h>

#include "doctor-certificate-private.h"
#include "doctor-deadline-private.h"
#include "doctor-error.h"
#include "doctor-format.h"
#include "doctor-port-scan.h"
#include "doctor-smtp-stream-private.h"

#define CONTROL_PORT 443
#define QUIT_TIMEOUT 2000   /* ms, for the QUIT that nobody waits for */

static const struct
{
  guint16        port;
  DoctorSecurity security;
} matrix[] = {
  { 25,   DOCTOR_SECURITY_TLS },
  { 25,   DOCTOR_SECURITY_STARTTLS },
  { 25,   DOCTOR_SECURITY_NONE },
  { 465,  DOCTOR_SECURITY_TLS },
  { 465,  DOCTOR_SECURITY_STARTTLS },
  { 587,  DOCTOR_SECURITY_TLS },
  { 587,  DOCTOR_SECURITY_STARTTLS },
  { 587,  DOCTOR_SECURITY_NONE },
  { 2525, DOCTOR_SECURITY_TLS },
  { 2525, DOCTOR_SECURITY_STARTTLS },
  { 2525, DOCTOR_SECURITY_NONE },
};

/* RFC 8314: implicit TLS first, then STARTTLS, then plain; within a mode, these ports. */
static const guint16 port_preference[] = { 465, 587, 2525, 25 };

typedef enum
{
  STAGE_IDLE,
  STAGE_CONNECT,
  STAGE_HANDSHAKE,
  STAGE_GREETING,
  STAGE_EHLO,
  STAGE_STARTTLS,
  STAGE_SIBLINGS,     /* its own part is over; the verdict waits for another cell of the port */
  STAGE_DONE,
} Stage;

typedef struct _Cell
{
  DoctorPortCell        pub;               /* first: a Cell * is a DoctorPortCell * */

  DoctorPortScan       *scan;              /* unowned; every operation in flight holds a ref */
  struct _Cell         *leader;            /* the port's first cell; NULL for that one */
  guint                 index;
  gboolean              control;
  Stage                 stage;
  DoctorDeadline       *deadline;
  gint64                started_us;

  GSocket              *socket;
  GSocketConnection    *connection;
  GIOStream            *tls;
  DoctorSmtpStream     *smtp;
  char                 *version;           /* "TLS 1.3" */
  char                 *banner;
  GTlsCertificateFlags  certificate_flags;

  /* The verdict of a cell in STAGE_SIBLINGS, unless the other cells of its port change it. */
  const char           *pending_result;
  char                 *pending_summary;
  char                 *pending_detail;

  guint                 busy : 1;          /* an operation with this cell as data is in flight */
  guint                 spoke_plain : 1;   /* an SMTP reply came in plain text */
  guint                 plain_known : 1;   /* whether one will has been settled */
  guint                 spoke_tls : 1;     /* a TLS handshake completed */
  guint                 tls_known : 1;
  guint                 offered_starttls : 1;
  guint                 by_target : 1;     /* the ICMP error came from the address probed */
  guint                 trusted : 1;
} Cell;

struct _DoctorPortScan
{
  GObject          parent_instance;

  char            *host;
  GInetAddress    *address;
  guint            timeout_ms;
  GTlsDatabase    *ca_database;
  char            *helo_name;

  GPtrArray       *cells;        /* (element-type Cell) in matrix order */
  Cell            *control;

  GTask           *task;
  GCancellable    *cancellable;
  DoctorDeadline  *dns_deadline;
  GError          *resolve_error;
  guint            running;      /* cells without a result, the control included */
  const Cell      *best;
  const char      *diagnosis;
  guint            started : 1;
  guint            finished : 1;
};

G_DEFINE_FINAL_TYPE (DoctorPortScan, doctor_port_scan, G_TYPE_OBJECT)

G_DEFINE_BOXED_TYPE (DoctorPortCell, doctor_port_cell, doctor_port_cell_copy, doctor_port_cell_free)

enum {
  PROP_0,
  PROP_FINISHED,
  N_PROPS
};

enum {
  CELL_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void start_cell      (Cell *cell);
static void start_handshake (Cell *cell);
static void start_greeting  (Cell *cell);
static void resolve_port    (DoctorPortScan *self,
                             guint16         port);

/* Cells ---------------------------------------------------------------------------------------- */

DoctorPortCell *
doctor_port_cell_copy (const DoctorPortCell *cell)
{
  DoctorPortCell *copy;

  g_return_val_if_fail (cell != NULL, NULL);

  copy = g_new0 (DoctorPortCell, 1);
  copy->port = cell->port;
  copy->security = cell->security;
  copy->result = cell->result;   /* static strings */
  copy->summary = g_strdup (cell->summary);
  copy->duration_ms = cell->duration_ms;
  copy->detail = g_strdup (cell->detail);

  return copy;
}

/* Only for copies: the cells of a scan belong to it. */
void
doctor_port_cell_free (DoctorPortCell *cell)
{
  if (cell == NULL)
    return;

  g_free (cell->summary);
  g_free (cell->detail);
  g_free (cell);
}

static void
close_stream (GIOStream *stream)
{
  /* Nobody waits for this. */
  g_io_stream_close_async (stream, G_PRIORITY_LOW, NULL, NULL, NULL);
}

static void
cell_free (Cell *cell)
{
  g_clear_pointer (&cell->deadline, doctor_deadline_free);
  g_clear_object (&cell->smtp);
  g_clear_object (&cell->tls);
  g_clear_object (&cell->connection);
  g_clear_object (&cell->socket);
  g_free (cell->version);
  g_free (cell->banner);
  g_free (cell->pending_summary);
  g_free (cell->pending_detail);
  g_free (cell->pub.summary);
  g_free (cell->pub.detail);
  g_free (cell);
}

static Cell *
cell_new (DoctorPortScan *self,
          guint16         port,
          DoctorSecurity  security)
{
  Cell *cell = g_new0 (Cell, 1);

  cell->scan = self;
  cell->pub.port = port;
  cell->pub.security = security;

  return cell;
}

/* For the data of an asynchronous call: keeps the scan, and so the cell, alive until the
 * callback, which takes the reference over with
 *   g_autoptr(DoctorPortScan) self = cell->scan; */
static Cell *
cell_hold (Cell *cell)
{
  g_object_ref (cell->scan);
  cell->busy = TRUE;
  return cell;
}

static void
cell_release (gpointer data)
{
  Cell *cell = data;

  g_object_unref (cell->scan);
}

static gboolean
is_tls (const Cell *cell)
{
  return !cell->control && cell->pub.security == DOCTOR_SECURITY_TLS;
}

/* Not a byte before the server's greeting on port 25: behind Postfix' postscreen, a client
 * that talks first (a TLS ClientHello too) is taken for a spammer. The TLS cell there only
 * listens: a greeting in plain text shows the mismatch, and silence is left at that. */
static gboolean
listens_first (const Cell *cell)
{
  return is_tls (cell) && cell->pub.port == 25;
}

static gboolean
scan_cancelled (DoctorPortScan *self)
{
  return self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable);
}

static guint
seconds (guint ms)
{
  return (ms + 999) / 1000;
}

static guint
remaining_ms (Cell *cell)
{
  gint64 spent = (g_get_monotonic_time () - cell->started_us) / 1000;
  gint64 left = (gint64) cell->scan->timeout_ms - spent;

  return (guint) CLAMP (left, 1, G_MAXUINT);
}

static GCancellable *
cell_cancellable (Cell *cell)
{
  return doctor_deadline_get_cancellable (cell->deadline);
}

static gboolean
cell_expired (Cell *cell)
{
  return cell->deadline != NULL && doctor_deadline_expired (cell->deadline);
}

static const char *
mode_label (const Cell *cell)
{
  return doctor_security_get_label (cell->pub.security);
}

static char *
address_to_string (GInetAddress *address)
{
  return g_inet_address_to_string (address);
}

/* The end of a cell ---------------------------------------------------------------------------- */

/* Lets go of the connection: with QUIT where the conversation stands and may be spoken on. */
static void
release_connection (Cell     *cell,
                    gboolean  quit)
{
  if (cell->smtp != NULL && quit)
    doctor_smtp_stream_quit (cell->smtp, QUIT_TIMEOUT);
  else if (cell->smtp != NULL)
    close_stream (doctor_smtp_stream_get_stream (cell->smtp));
  else if (cell->tls != NULL)
    close_stream (cell->tls);
  else if (cell->connection != NULL)
    close_stream (G_IO_STREAM (cell->connection));
  else if (cell->socket != NULL)
    g_socket_close (cell->socket, NULL);

  g_clear_object (&cell->smtp);
  g_clear_object (&cell->tls);
  g_clear_object (&cell->connection);
  g_clear_object (&cell->socket);
}

static const Cell *
find_best (DoctorPortScan *self)
{
  gboolean encryption_seen = FALSE;
  static const DoctorSecurity modes[] = {
    DOCTOR_SECURITY_TLS, DOCTOR_SECURITY_STARTTLS, DOCTOR_SECURITY_NONE,
  };

  /* Plain text is only suggested where no encryption was seen at all: where TLS is offered
   * but fails or is not trusted, that is the problem to fix, not to route around. */
  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      encryption_seen |= cell->spoke_tls || cell->offered_starttls;
    }

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      if (modes[m] == DOCTOR_SECURITY_NONE && encryption_seen)
        break;

      for (guint p = 0; p < G_N_ELEMENTS (port_preference); p++)
        {
          for (guint i = 0; i < self->cells->len; i++)
            {
              Cell *cell = g_ptr_array_index (self->cells, i);

              if (cell->pub.port == port_preference[p] && cell->pub.security == modes[m] &&
                  g_strcmp0 (cell->pub.result, "ok") == 0)
                return cell;
            }
        }
    }

  return NULL;
}

typedef enum
{
  PORT_REACHED,
  PORT_REFUSED,
  PORT_BLOCKED,       /* timeout or filtered */
  PORT_UNREACHABLE,
  PORT_UNKNOWN,       /* cancelled, not tried */
} PortState;

static gboolean
is_connect_failure (const char *result)
{
  static const char *failures[] = {
    "refused", "timeout", "unreachable", "filtered", "cancelled", "not-tried",
  };

  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      if (g_strcmp0 (result, failures[i]) == 0)
        return TRUE;
    }

  return result == NULL;
}

static PortState
port_state (DoctorPortScan *self,
            guint16         port)
{
  gboolean refused = FALSE, blocked = FALSE, unreachable = FALSE;

  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);
      const char *result = cell->pub.result;

      if (cell->pub.port != port)
        continue;

      if (!is_connect_failure (result))
        return PORT_REACHED;
      /* An ICMP error from the server's own address is its own firewall answering: the host
       * is there and rejects the port, nothing on the way blocks it. */
      refused |= g_str_equal (result, "refused") || cell->by_target;
      blocked |= g_str_equal (result, "timeout") || g_str_equal (result, "filtered");
      unreachable |= g_str_equal (result, "unreachable");
    }

  /* A refusal proves that the host is there, whatever the other cells met. */
  if (refused)
    return PORT_REFUSED;
  if (blocked)
    return PORT_BLOCKED;
  if (unreachable)
    return PORT_UNREACHABLE;

  return PORT_UNKNOWN;
}

static const char *
find_diagnosis (DoctorPortScan *self)
{
  guint n_reached = 0, n_refused = 0, n_blocked = 0;
  gboolean others_blocked = FALSE;
  gboolean submission_works = FALSE;
  const char *control = self->control->pub.result;

  if (scan_cancelled (self) || self->address == NULL)
    return NULL;

  for (guint p = 0; p < G_N_ELEMENTS (port_preference); p++)
    {
      guint16 port = port_preference[p];
      PortState state = port_state (self, port);

      n_reached += state == PORT_REACHED;
      n_refused += state == PORT_REFUSED;
      n_blocked += state == PORT_BLOCKED;
      if (port != 25 && state == PORT_BLOCKED)
        others_blocked = TRUE;
      if ((port == 465 || port == 587) && state == PORT_REACHED)
        submission_works = TRUE;
    }

  if (n_reached > 0)
    {
      if (port_state (self, 25) == PORT_BLOCKED && !others_blocked && submission_works)
        return "port-25-blocked";
      if (n_blocked > 0)
        return "some-ports-filtered";
      return NULL;
    }

  if (n_refused == G_N_ELEMENTS (port_preference))
    return "smtp-ports-closed";

  /* Silence on every mail port, from a host that answers elsewhere. */
  if (g_strcmp0 (control, "open") == 0 || g_strcmp0 (control, "refused") == 0 || n_refused > 0)
    return "smtp-ports-filtered";

  return "host-unreachable-or-offline";
}

static void
maybe_complete (DoctorPortScan *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->running > 0 || self->task == NULL)
    return;

  task = g_steal_pointer (&self->task);
  g_clear_pointer (&self->dns_deadline, doctor_deadline_free);
  self->best = find_best (self);
  self->diagnosis = find_diagnosis (self);
  self->finished = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FINISHED]);

  if (scan_cancelled (self))
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             _("The port scan was cancelled"));
  else if (self->resolve_error != NULL)
    g_task_return_error (task, g_error_copy (self->resolve_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void finish_cell (Cell       *cell,
                         const char *result,
                         char       *summary,
                         char       *detail,
                         gboolean    quit);

/* A leader that ended without a connection (refused, filtered, silent, cancelled): the other
 * cells of its port say the same, without a connection of their own. */
static void
settle_followers (Cell *leader)
{
  GPtrArray *cells = leader->scan->cells;

  for (guint i = 0; i < cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (cells, i);

      if (cell->leader != leader || cell->stage != STAGE_IDLE)
        continue;

      cell->started_us = leader->started_us;
      cell->by_target = leader->by_target;
      finish_cell (cell, leader->pub.result, g_strdup (leader->pub.summary),
                   g_strdup (leader->pub.detail), FALSE);
    }
}

/* Gives the cell its result (taking @summary and @detail) and lets go of its connection, with
 * QUIT when @quit. An operation still in flight is stopped; its callback finds the cell done. */
static void
finish_cell (Cell       *cell,
             const char *result,
             char       *summary,
             char       *detail,
             gboolean    quit)
{
  DoctorPortScan *self = cell->scan;

  g_assert (cell->stage != STAGE_DONE);

  cell->stage = STAGE_DONE;
  cell->plain_known = TRUE;
  cell->tls_known = TRUE;
  cell->pub.result = result;
  cell->pub.summary = summary;
  cell->pub.detail = detail;
  cell->pub.duration_ms = cell->started_us > 0
                          ? (g_get_monotonic_time () - cell->started_us) / 1000 : 0;
  g_clear_pointer (&cell->pending_summary, g_free);
  g_clear_pointer (&cell->pending_detail, g_free);

  if (cell->busy)
    g_cancellable_cancel (cell_cancellable (cell));
  else
    release_connection (cell, quit);
  g_clear_pointer (&cell->deadline, doctor_deadline_free);

  if (!cell->control)
    g_signal_emit (self, signals[CELL_FINISHED], 0, cell->index, &cell->pub);

  self->running--;
  if (!cell->control)
    {
      settle_followers (cell);
      resolve_port (self, cell->pub.port);
    }
  maybe_complete (self);
}

static void
finish_cancelled (Cell *cell)
{
  finish_cell (cell, "cancelled", g_strdup (_("Cancelled")), NULL, FALSE);
}

/* Own part over, verdict pending: the other cells of the port may still change it. */
static void
wait_for_siblings (Cell       *cell,
                   const char *result,
                   char       *summary,
                   char       *detail)
{
  cell->stage = STAGE_SIBLINGS;
  cell->pending_result = result;
  cell->pending_summary = summary;
  cell->pending_detail = detail;
  resolve_port (cell->scan, cell->pub.port);
}

static void
finish_pending (Cell *cell)
{
  finish_cell (cell, cell->pending_result, g_steal_pointer (&cell->pending_summary),
               g_steal_pointer (&cell->pending_detail), FALSE);
}

static void
finish_mismatch (Cell     *cell,
                 gboolean  quit)
{
  g_autofree char *banner = NULL;
  char *summary, *detail;

  if (is_tls (cell))
    {
      /* The plain cell that was greeted has the banner. */
      for (guint i = 0; i < cell->scan->cells->len && banner == NULL; i++)
        {
          Cell *other = g_ptr_array_index (cell->scan->cells, i);

          if (other->pub.port == cell->pub.port && other->banner != NULL)
            banner = g_strdup (other->banner);
        }

      summary = g_strdup_printf (_("Port %u does not speak SSL/TLS from the start: the server "
                                   "answers in plain text, so it expects STARTTLS or no "
                                   "encryption"), cell->pub.port);
      detail = banner != NULL ? g_strdup_printf (_("plain-text greeting: %s"), banner)
                              : g_strdup (_("the server sent data that is not TLS"));
    }
  else
    {
      summary = g_strdup_printf (_("Port %u expects SSL/TLS from the start (implicit TLS): the "
                                   "server waits silently for a TLS handshake"), cell->pub.port);
      detail = g_strdup (_("no greeting in plain text; a TLS handshake on this port succeeds"));
    }

  finish_cell (cell, "mode-mismatch", summary, detail, quit);
}

static Cell *
tls_cell_of_port (DoctorPortScan *self,
                  guint16         port)
{
  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      if (cell->pub.port == port && is_tls (cell))
        return cell;
    }

  return NULL;
}

/* The cells of a port decide together whether the port speaks the other mode. */
static void
resolve_port (DoctorPortScan *self,
              guint16         port)
{
  Cell *tls = tls_cell_of_port (self, port);
  gboolean greeted = FALSE, all_known = TRUE;

  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      if (cell->pub.port != port || is_tls (cell))
        continue;
      greeted |= cell->spoke_plain;
      all_known &= cell->plain_known;
    }

  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      if (cell->pub.port != port)
        continue;

      if (cell->stage == STAGE_SIBLINGS && scan_cancelled (self))
        {
          finish_cancelled (cell);
          continue;
        }

      if (is_tls (cell))
        {
          if (cell->stage != STAGE_SIBLINGS)
            continue;
          if (greeted)
            finish_mismatch (cell, FALSE);
          else if (all_known)
            finish_pending (cell);
          continue;
        }

      /* A plain or STARTTLS cell still waiting for its greeting, or past waiting. */
      if (tls == NULL || cell->spoke_plain ||
          (cell->stage != STAGE_SIBLINGS && cell->stage != STAGE_GREETING))
        continue;
      if (tls->spoke_tls)
        finish_mismatch (cell, FALSE);
      else if (cell->stage == STAGE_SIBLINGS && tls->tls_known)
        finish_pending (cell);
    }
}

/* Connect -------------------------------------------------------------------------------------- */

typedef struct
{
  gboolean      seen;
  gboolean      v6;
  guint8        type;
  guint8        code;
  GInetAddress *sender;
} IcmpReport;

static void
icmp_report_clear (IcmpReport *report)
{
  g_clear_object (&report->sender);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (IcmpReport, icmp_report_clear)

static void
set_recverr (GSocket *socket,
             gboolean on)
{
#ifdef __linux__
  if (g_socket_get_family (socket) == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_RECVERR, on, NULL);
  else
    g_socket_set_option (socket, IPPROTO_IP, IP_RECVERR, on, NULL);
#endif
}

/* The ICMP error that ended the connect, from the socket's error queue, if one is there. */
static void
read_icmp_report (GSocket    *socket,
                  IcmpReport *report)
{
#ifdef __linux__
  int fd = g_socket_get_fd (socket);

  for (guint attempt = 0; attempt < 8 && !report->seen; attempt++)
    {
      union {
        char           buf[512];
        struct cmsghdr align;
      } control;
      char data[64];
      struct iovec iov = { data, sizeof data };
      struct sockaddr_storage from;
      struct msghdr msg;
      struct cmsghdr *cmsg;

      memset (&msg, 0, sizeof msg);
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;

      if (recvmsg (fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
        return;

      for (cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
        {
          struct sock_extended_err ee;
          struct sockaddr_storage offender;
          gsize offender_len;

          if (!((cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_RECVERR) ||
                (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_RECVERR)) ||
              cmsg->cmsg_len < CMSG_LEN (sizeof ee))
            continue;

          memcpy (&ee, CMSG_DATA (cmsg), sizeof ee);
          if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6)
            continue;

          report->seen = TRUE;
          report->v6 = ee.ee_origin == SO_EE_ORIGIN_ICMP6;
          report->type = ee.ee_type;
          report->code = ee.ee_code;

          /* The sender's address follows the structure (SO_EE_OFFENDER). */
          offender_len = MIN (cmsg->cmsg_len - CMSG_LEN (sizeof ee), sizeof offender);
          memset (&offender, 0, sizeof offender);
          memcpy (&offender, CMSG_DATA (cmsg) + sizeof ee, offender_len);
          if (offender.ss_family == AF_INET && offender_len >= sizeof (struct sockaddr_in))
            {
              struct sockaddr_in *in = (struct sockaddr_in *) &offender;

              report->sender = g_inet_address_new_from_bytes ((const guint8 *) &in->sin_addr,
                                                              G_SOCKET_FAMILY_IPV4);
            }
          else if (offender.ss_family == AF_INET6 && offender_len >= sizeof (struct sockaddr_in6))
            {
              struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &offender;

              report->sender = g_inet_address_new_from_bytes ((const guint8 *) &in6->sin6_addr,
                                                              G_SOCKET_FAMILY_IPV6);
            }
          break;
        }
    }
#endif
}

static gboolean
icmp_is_prohibited (const IcmpReport *report)
{
  if (!report->seen)
    return FALSE;

  /* ICMPv6 destination unreachable: 1 administratively prohibited, 5 source address failed
   * ingress/egress policy, 6 reject route to destination (RFC 4443). */
  if (report->v6)
    return report->type == 1 && (report->code == 1 || report->code == 5 || report->code == 6);

  /* ICMP destination unreachable: 9 network, 10 host, 13 communication administratively
   * prohibited (RFC 1812 §5.2.7.1). */
  return report->type == 3 && (report->code == 9 || report->code == 10 || report->code == 13);
}

static const char *
icmp_name (const IcmpReport *report)
{
  if (report->v6 && report->type == 1)
    {
      switch (report->code)
        {
        case 0: return _("no route to destination");
        case 1: return _("administratively prohibited");
        case 3: return _("address unreachable");
        case 4: return _("port unreachable");
        case 5: return _("source address failed ingress/egress policy");
        case 6: return _("reject route to destination");
        default: return _("destination unreachable");
        }
    }

  if (!report->v6 && report->type == 3)
    {
      switch (report->code)
        {
        case 0: return _("network unreachable");
        case 1: return _("host unreachable");
        case 3: return _("port unreachable");
        case 9: return _("network administratively prohibited");
        case 10: return _("host administratively prohibited");
        case 13: return _("communication administratively prohibited");
        default: return _("destination unreachable");
        }
    }

  return _("unexpected ICMP message");
}

/* "ICMP type 3 code 13 (communication administratively prohibited) from 192.0.2.1" */
static char *
icmp_describe (const IcmpReport *report)
{
  g_autofree char *sender = report->sender != NULL ? address_to_string (report->sender)
                                                   : g_strdup ("?");

  /* Translators: the first two %u are ICMP type and code, then a name such as "port
   * unreachable", and the address that sent the message. */
  return g_strdup_printf (_("%s type %u code %u (%s) from %s"),
                          report->v6 ? "ICMPv6" : "ICMP", report->type, report->code,
                          icmp_name (report), sender);
}

static void
conclude_connect_error (Cell             *cell,
                        const GError     *error,
                        const IcmpReport *icmp)
{
  DoctorPortScan *self = cell->scan;
  guint16 port = cell->pub.port;
  g_autofree char *where = address_to_string (self->address);
  const char *result;
  char *summary, *detail;

  if (scan_cancelled (self))
    {
      finish_cancelled (cell);
      return;
    }

  cell->by_target = icmp->seen && icmp->sender != NULL &&
                    g_inet_address_equal (icmp->sender, self->address);

  if (cell_expired (cell) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      result = "timeout";
      summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                              "No answer on port %u within %u second: a "
                                              "firewall may be dropping the connection",
                                              "No answer on port %u within %u seconds: a "
                                              "firewall may be dropping the connection",
                                              seconds (self->timeout_ms)),
                                 port, seconds (self->timeout_ms));
      detail = g_strdup_printf (_("no answer to the connection request within %u ms"),
                                self->timeout_ms);
    }
  else if (icmp_is_prohibited (icmp))
    {
      g_autofree char *sender = icmp->sender != NULL ? address_to_string (icmp->sender) : NULL;

      result = "filtered";
      if (cell->by_target)
        summary = g_strdup_printf (_("A firewall at %s rejected the connection to port %u "
                                     "(administratively prohibited)"), where, port);
      else
        summary = g_strdup_printf (_("A firewall on the way to %s (at %s) rejected the "
                                     "connection to port %u (administratively prohibited)"),
                                   where, sender != NULL ? sender : "?", port);
      detail = icmp_describe (icmp);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    {
      /* EACCES/EPERM from connect() itself, without an ICMP error (ICMPv6 "administratively
       * prohibited" gives EACCES too, and is told above): a rule on this computer. */
      result = "filtered";
      summary = g_strdup_printf (_("A firewall on this computer blocks connections to port %u"),
                                 port);
      detail = g_strdup (error->message);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    {
      result = "refused";
      summary = g_strdup_printf (_("Port %u refused the connection: nothing accepts "
                                   "connections there, or a firewall rejects them"), port);
      if (icmp->seen)
        detail = icmp_describe (icmp);
      else
        detail = g_strdup (_("answered with a TCP reset"));
    }
  else
    {
      result = "unreachable";
      summary = g_strdup_printf (_("%s cannot be reached on port %u (%s)"), where, port,
                                 error->message);
      detail = icmp->seen ? icmp_describe (icmp) : g_strdup (error->message);
    }

  finish_cell (cell, result, summary, detail, FALSE);
}

static void
connected (Cell *cell)
{
  GSocket *socket = cell->socket;

  set_recverr (socket, FALSE);
  g_socket_set_blocking (socket, TRUE);
  /* Commands are small and each waits for its reply: Nagle would only add delay. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  cell->connection = g_socket_connection_factory_create_connection (socket);

  if (cell->control)
    {
      char *summary = g_strdup_printf (_("Port %u answers"), cell->pub.port);
      g_autofree char *duration =
          doctor_format_duration ((g_get_monotonic_time () - cell->started_us) / 1000);
      /* Translators: %s is a duration, such as “120 ms”. */
      char *detail = g_strdup_printf (_("connected in %s"), duration);

      finish_cell (cell, "open", summary, detail, FALSE);
      return;
    }

  /* The port accepts connections: the other modes get theirs. */
  for (guint i = 0; i < cell->scan->cells->len; i++)
    {
      Cell *follower = g_ptr_array_index (cell->scan->cells, i);

      if (follower->leader == cell && follower->stage == STAGE_IDLE)
        start_cell (follower);
    }

  if (is_tls (cell) && !listens_first (cell))
    start_handshake (cell);
  else
    start_greeting (cell);
}

static gboolean
on_socket_ready (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  Cell *cell = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(IcmpReport) icmp = { 0 };

  /* The source's reference to the scan goes with the source, after this returns. */
  cell->busy = FALSE;
  if (cell->stage == STAGE_DONE)
    {
      release_connection (cell, FALSE);
      return G_SOURCE_REMOVE;
    }

  if (g_cancellable_is_cancelled (cell_cancellable (cell)))
    {
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
      conclude_connect_error (cell, error, &icmp);
      return G_SOURCE_REMOVE;
    }

  if (!g_socket_check_connect_result (socket, &error))
    {
      read_icmp_report (socket, &icmp);
      conclude_connect_error (cell, error, &icmp);
      return G_SOURCE_REMOVE;
    }

  connected (cell);
  return G_SOURCE_REMOVE;
}

static void
start_cell (Cell *cell)
{
  DoctorPortScan *self = cell->scan;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(IcmpReport) icmp = { 0 };
  GSource *source;

  g_assert (cell->stage == STAGE_IDLE);

  cell->stage = STAGE_CONNECT;
  cell->started_us = g_get_monotonic_time ();
  cell->deadline = doctor_deadline_new (self->cancellable, self->timeout_ms);

  /* Each address is connected to directly: the question is what this machine's network does
   * with the port, and a proxy would hide it. */
  cell->socket = g_socket_new (g_inet_address_get_family (self->address), G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_TCP, &error);
  if (cell->socket == NULL)
    {
      conclude_connect_error (cell, error, &icmp);
      return;
    }

  g_socket_set_blocking (cell->socket, FALSE);
  set_recverr (cell->socket, TRUE);
  remote = g_inet_socket_address_new (self->address, cell->pub.port);

  if (g_socket_connect (cell->socket, remote, NULL, &error))
    {
      connected (cell);
      return;
    }

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      /* ENETUNREACH, EACCES and the like come at once. */
      read_icmp_report (cell->socket, &icmp);
      conclude_connect_error (cell, error, &icmp);
      return;
    }

  source = g_socket_create_source (cell->socket, G_IO_OUT, cell_cancellable (cell));
  g_source_set_callback (source, G_SOURCE_FUNC (on_socket_ready), cell_hold (cell),
                         cell_release);
  g_source_set_static_name (source, "[smtp-doctor] port scan connect");
  g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);
}

/* TLS ------------------------------------------------------------------------------------------ */

static gboolean
accept_any_certificate (GTlsConnection       *connection,
                        GTlsCertificate      *certificate,
                        GTlsCertificateFlags  errors,
                        gpointer              user_data)
{
  /* The handshake goes on so that the cell can tell whether the port speaks SMTP over TLS;
   * the trust is recorded after it, and nothing is sent on an untrusted connection. */
  return TRUE;
}

static const char *
protocol_version_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default:
      return NULL;
    }
}

/* The name a certificate must carry: the host the user gave, in its ASCII form. */
static GSocketConnectable *
server_identity (Cell *cell)
{
  g_autofree char *ascii = g_hostname_to_ascii (cell->scan->host);

  return g_network_address_new (ascii != NULL ? ascii : cell->scan->host, cell->pub.port);
}

/* Trust as the diagnosis sees it: the system's store, and the custom CA on top of it. */
static void
record_trust (Cell           *cell,
              GTlsConnection *tls)
{
  DoctorPortScan *self = cell->scan;
  GTlsCertificate *peer = g_tls_connection_get_peer_certificate (tls);
  GTlsCertificateFlags flags = g_tls_connection_get_peer_certificate_errors (tls);

  if (peer != NULL && (flags & G_TLS_CERTIFICATE_UNKNOWN_CA) && self->ca_database != NULL)
    {
      g_autoptr(GSocketConnectable) identity = server_identity (cell);
      GTlsCertificateFlags custom;

      custom = g_tls_database_verify_chain (self->ca_database, peer,
                                            G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
                                            identity, NULL, G_TLS_DATABASE_VERIFY_NONE,
                                            NULL, NULL);
      if ((custom & G_TLS_CERTIFICATE_UNKNOWN_CA) == 0)
        flags = custom;
    }

  cell->certificate_flags = peer != NULL ? flags : G_TLS_CERTIFICATE_UNKNOWN_CA;
  cell->trusted = peer != NULL && flags == 0;
}

/* A TLS conversation that got as far as the cell goes: ok, or not trusted. */
static void
finish_tls_works (Cell *cell)
{
  const char *version = cell->version != NULL ? cell->version : _("TLS");
  char *summary, *detail;

  if (!cell->trusted)
    {
      /* Translators: "Port 465 speaks SMTP with SSL/TLS (TLS 1.3), but …" */
      summary = g_strdup_printf (_("Port %u speaks SMTP with %s (%s), but its certificate is "
                                   "not trusted"), cell->pub.port, mode_label (cell), version);
      detail = doctor_certificate_flags_summary (cell->certificate_flags);
      finish_cell (cell, "certificate-untrusted", summary, detail, FALSE);
      return;
    }

  /* Translators: "Port 465 works with SSL/TLS (TLS 1.3)" */
  summary = g_strdup_printf (_("Port %u works with %s (%s)"), cell->pub.port, mode_label (cell),
                             version);
  detail = cell->banner != NULL ? g_strdup_printf ("%s; %s", version, cell->banner)
                                : g_strdup (version);
  finish_cell (cell, "ok", summary, detail, TRUE);
}

static void
on_handshake (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Cell *cell = user_data;
  g_autoptr(DoctorPortScan) self = cell->scan;
  GTlsConnection *tls = G_TLS_CONNECTION (object);
  g_autoptr(GError) error = NULL;
  gboolean done;
  char *summary, *detail;

  cell->busy = FALSE;
  done = g_tls_connection_handshake_finish (tls, result, &error);

  if (cell->stage == STAGE_DONE)
    {
      release_connection (cell, FALSE);
      return;
    }

  if (!done)
    {
      if (scan_cancelled (self))
        {
          finish_cancelled (cell);
          return;
        }

      /* Neither the TLS layer nor the plaintext underneath is of use any more. */
      g_clear_object (&cell->smtp);
      cell->tls_known = TRUE;

      if (cell_expired (cell))
        detail = g_strdup (_("no TLS answer within the deadline"));
      else
        detail = g_strdup (error->message);

      if (is_tls (cell) && g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS))
        {
          /* Most likely a plain-text greeting; the plain cells of the port confirm it (and
           * give the banner) once they have spoken. */
          summary = g_strdup_printf (_("Port %u does not speak SSL/TLS from the start: the "
                                       "server sent something that is not TLS"),
                                     cell->pub.port);
          wait_for_siblings (cell, "mode-mismatch", summary, detail);
          return;
        }

      if (cell_expired (cell))
        summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                "Port %u: the TLS handshake did not finish "
                                                "within %u second",
                                                "Port %u: the TLS handshake did not finish "
                                                "within %u seconds", seconds (self->timeout_ms)),
                                   cell->pub.port, seconds (self->timeout_ms));
      else
        summary = g_strdup_printf (_("Port %u: the TLS handshake failed: %s"),
                                   cell->pub.port, error->message);

      /* After the server's 220 to STARTTLS there is no other mode to find; on a TLS cell, a
       * plain cell of the port greeted in plain text shows a mismatch. */
      if (is_tls (cell))
        wait_for_siblings (cell, "tls-failed", summary, detail);
      else
        finish_cell (cell, "tls-failed", summary, detail, FALSE);
      return;
    }

  g_free (cell->version);
  cell->version = g_strdup (protocol_version_name (g_tls_connection_get_protocol_version (tls)));
  record_trust (cell, tls);
  cell->spoke_tls = TRUE;
  cell->tls_known = TRUE;
  resolve_port (self, cell->pub.port);

  if (is_tls (cell))
    {
      /* Implicit TLS: the greeting comes over TLS; the untrusted connection is only read. */
      cell->smtp = doctor_smtp_stream_new (cell->tls, NULL, NULL);
      start_greeting (cell);
      return;
    }

  if (!doctor_smtp_stream_upgrade (cell->smtp, cell->tls, &error))
    {
      summary = g_strdup_printf (_("Port %u: %s"), cell->pub.port, error->message);
      g_clear_object (&cell->smtp);
      finish_cell (cell, "tls-failed", summary, g_strdup (error->message), FALSE);
      return;
    }

  finish_tls_works (cell);
}

static void
start_handshake (Cell *cell)
{
  g_autoptr(GSocketConnectable) identity = server_identity (cell);
  g_autoptr(GError) error = NULL;

  cell->stage = STAGE_HANDSHAKE;
  cell->tls = g_tls_client_connection_new (G_IO_STREAM (cell->connection), identity, &error);
  if (cell->tls == NULL)
    {
      char *summary = g_strdup_printf (_("TLS is not available on this computer (%s); install "
                                         "glib-networking"), error->message);

      finish_cell (cell, "tls-failed", summary, g_strdup (error->message), FALSE);
      return;
    }

  g_signal_connect (cell->tls, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (cell->tls), G_PRIORITY_DEFAULT,
                                    cell_cancellable (cell), on_handshake, cell_hold (cell));
}

/* The conversation ----------------------------------------------------------------------------- */

/* A failed command: a deadline, a broken or closed stream. */
static char *
stream_error_text (Cell         *cell,
                   const GError *error)
{
  if (cell_expired (cell) || g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_TIMEOUT))
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "no reply within %u second",
                                         "no reply within %u seconds",
                                         seconds (cell->scan->timeout_ms)),
                            seconds (cell->scan->timeout_ms));

  return g_strdup (error->message);
}

static void
finish_stream_error (Cell         *cell,
                     const GError *error,
                     const char   *command)
{
  g_autofree char *text = NULL;
  char *summary;

  if (scan_cancelled (cell->scan))
    {
      finish_cancelled (cell);
      return;
    }

  text = stream_error_text (cell, error);
  /* Translators: "Port 587: no answer to EHLO (no reply within 5 seconds)" */
  summary = g_strdup_printf (_("Port %u: no answer to %s (%s)"), cell->pub.port, command, text);
  finish_cell (cell, "greeting-failed", summary, g_steal_pointer (&text), FALSE);
}

/* "554 5.7.1 No service for you", made safe. */
static char *
reply_text (const DoctorReply *reply)
{
  g_autofree char *text = doctor_reply_join_text (reply);

  return g_strdup_printf ("%u %s", reply->code, text);
}

static gboolean
offers_starttls (const DoctorReply *reply)
{
  /* The first line is the server's name; each further one a keyword with its parameters. */
  for (guint i = 1; i < reply->lines->len; i++)
    {
      const char *line = g_ptr_array_index (reply->lines, i);

      if (g_ascii_strncasecmp (line, "STARTTLS", 8) == 0 && (line[8] == '\0' || line[8] == ' '))
        return TRUE;
    }

  return FALSE;
}

static void
on_starttls (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cell *cell = user_data;
  g_autoptr(DoctorPortScan) self = cell->scan;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  cell->busy = FALSE;
  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (cell->stage == STAGE_DONE)
    {
      release_connection (cell, FALSE);
      return;
    }

  if (reply == NULL)
    {
      finish_stream_error (cell, error, "STARTTLS");
      return;
    }

  if (reply->code != 220)
    {
      char *shown = reply_text (reply);

      /* Translators: a port number, then the server's reply */
      finish_cell (cell, reply->code == 421 ? "greeting-failed" : "tls-failed",
                   g_strdup_printf (_("Port %u offers STARTTLS but refused it (%s)"),
                                    cell->pub.port, shown),
                   shown, FALSE);
      return;
    }

  if (doctor_smtp_stream_has_pending_input (cell->smtp))
    {
      /* Whatever came with the 220 was written before the handshake by whoever sits on the
       * path. Nothing more is sent on this connection. */
      g_clear_object (&cell->smtp);
      finish_cell (cell, "tls-failed",
                   g_strdup_printf (_("Port %u: the server sent more data right after "
                                      "accepting STARTTLS; someone on the network may be "
                                      "injecting commands"), cell->pub.port),
                   g_strdup (_("data after the 220 reply to STARTTLS")), FALSE);
      return;
    }

  start_handshake (cell);
}

static void
on_ehlo (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Cell *cell = user_data;
  g_autoptr(DoctorPortScan) self = cell->scan;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean starttls;
  char *summary;

  cell->busy = FALSE;
  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (cell->stage == STAGE_DONE)
    {
      release_connection (cell, FALSE);
      return;
    }

  if (reply == NULL)
    {
      finish_stream_error (cell, error, "EHLO");
      return;
    }

  if (reply->code != 250)
    {
      char *shown = reply_text (reply);

      /* Translators: a port number, then the server's reply */
      finish_cell (cell, "greeting-failed",
                   g_strdup_printf (_("Port %u: the server refused EHLO (%s)"), cell->pub.port,
                                    shown),
                   shown, FALSE);
      return;
    }

  starttls = offers_starttls (reply);
  cell->offered_starttls = starttls;

  if (cell->pub.security == DOCTOR_SECURITY_NONE)
    {
      if (starttls)
        summary = g_strdup_printf (_("Port %u works without encryption; it also offers "
                                     "STARTTLS"), cell->pub.port);
      else
        summary = g_strdup_printf (_("Port %u works, but only without encryption"),
                                   cell->pub.port);
      finish_cell (cell, "ok", summary, g_strdup (cell->banner), TRUE);
      return;
    }

  if (!starttls)
    {
      summary = g_strdup_printf (_("Port %u answers, but does not offer STARTTLS"),
                                 cell->pub.port);
      finish_cell (cell, "starttls-not-offered", summary, g_strdup (cell->banner), TRUE);
      return;
    }

  cell->stage = STAGE_STARTTLS;
  doctor_smtp_stream_command_async (cell->smtp, "STARTTLS", NULL, remaining_ms (cell),
                                    cell_cancellable (cell), on_starttls, cell_hold (cell));
}

static char *
make_helo_name (Cell *cell)
{
  const char *host = g_get_host_name ();
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *ip = NULL;
  gboolean valid = strchr (host, '.') != NULL && strlen (host) < 250;

  if (cell->scan->helo_name != NULL)
    return g_strdup (cell->scan->helo_name);

  /* As the diagnosis does: a name with a domain, else the address literal (RFC 5321 §4.1.3). */
  for (const char *p = host; valid && *p; p++)
    valid = g_ascii_isalnum (*p) || *p == '-' || *p == '.';
  if (valid)
    return g_strdup (host);

  local = g_socket_connection_get_local_address (cell->connection, NULL);
  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return g_strdup ("localhost");

  ip = address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  if (g_socket_address_get_family (local) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[IPv6:%s]", ip);

  return g_strdup_printf ("[%s]", ip);
}

static void
on_greeting (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Cell *cell = user_data;
  g_autoptr(DoctorPortScan) self = cell->scan;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *helo = NULL;
  g_autofree char *command = NULL;

  cell->busy = FALSE;
  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (cell->stage == STAGE_DONE)
    {
      /* Settled by another cell of the port: a mode mismatch. */
      release_connection (cell, FALSE);
      return;
    }

  if (reply == NULL)
    {
      char *summary, *detail;

      if (scan_cancelled (self))
        {
          finish_cancelled (cell);
          return;
        }

      detail = stream_error_text (cell, error);
      if (listens_first (cell))
        {
          summary = g_strdup_printf (_("Port %u: connected, but no greeting came (%s); SSL/TLS "
                                       "is not tried on this port before the server speaks"),
                                     cell->pub.port, detail);
          finish_cell (cell, "greeting-failed", summary, detail, FALSE);
          return;
        }
      if (is_tls (cell))
        {
          summary = g_strdup_printf (_("Port %u: the TLS handshake worked, but no greeting "
                                       "followed (%s)"), cell->pub.port, detail);
          finish_cell (cell, "greeting-failed", summary, detail, FALSE);
          return;
        }

      /* Silence is what a plain client meets on an implicit-TLS port; the TLS cell of the
       * port tells. */
      cell->plain_known = TRUE;
      summary = g_strdup_printf (_("Port %u: connected, but no greeting came (%s)"),
                                 cell->pub.port, detail);
      wait_for_siblings (cell, "greeting-failed", summary, detail);
      return;
    }

  if (!is_tls (cell))
    {
      cell->spoke_plain = TRUE;
      cell->plain_known = TRUE;
    }

  cell->banner = reply_text (reply);

  if (listens_first (cell))
    {
      /* Any reply in plain text: the port speaks plain SMTP. */
      finish_mismatch (cell, reply->code == 220);
      return;
    }

  if (reply->code != 220)
    {
      guint16 port = cell->pub.port;
      char *summary;

      if (reply->code == 421)
        summary = g_strdup_printf (_("Port %u: the server is busy or refuses connections for "
                                     "now (%s)"), port, cell->banner);
      else if (reply->code >= 500)
        summary = g_strdup_printf (_("Port %u: the server refuses to talk to this computer "
                                     "(%s)"), port, cell->banner);
      else
        summary = g_strdup_printf (_("Port %u: the server greeted with an unexpected reply "
                                     "(%s)"), port, cell->banner);
      finish_cell (cell, "greeting-failed", summary, g_strdup (cell->banner), FALSE);
      return;
    }

  if (is_tls (cell))
    {
      finish_tls_works (cell);
      return;
    }

  /* A TLS cell of the port whose handshake failed learns that the port speaks plain text. */
  cell->stage = STAGE_EHLO;
  resolve_port (self, cell->pub.port);
  helo = make_helo_name (cell);
  command = g_strdup_printf ("EHLO %s", helo);
  doctor_smtp_stream_command_async (cell->smtp, command, NULL, remaining_ms (cell),
                                    cell_cancellable (cell), on_ehlo, cell_hold (cell));
}

static void
start_greeting (Cell *cell)
{
  if (cell->smtp == NULL)
    cell->smtp = doctor_smtp_stream_new (G_IO_STREAM (cell->connection), NULL, NULL);

  cell->stage = STAGE_GREETING;

  /* The TLS cell of the port may have shown already that the port speaks TLS only. */
  if (!is_tls (cell))
    {
      resolve_port (cell->scan, cell->pub.port);
      if (cell->stage == STAGE_DONE)
        return;
    }

  /* Not a word before the greeting: behind Postfix' postscreen, a client that talks first is
   * taken for a spammer. */
  doctor_smtp_stream_command_async (cell->smtp, NULL, NULL, remaining_ms (cell),
                                    cell_cancellable (cell), on_greeting, cell_hold (cell));
}

/* The scan ------------------------------------------------------------------------------------- */

static void
start_cells (DoctorPortScan *self)
{
  /* Counted before any starts: a cell may fail at once, and the scan ends only after all. */
  self->running = self->cells->len + 1;

  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      if (cell->leader == NULL && cell->stage == STAGE_IDLE)
        start_cell (cell);
    }
  start_cell (self->control);
}

static void
finish_not_tried (DoctorPortScan *self,
                  const char     *why)
{
  self->running = self->cells->len + 1;

  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      /* A leader's followers end with it. */
      if (cell->stage == STAGE_IDLE)
        finish_cell (cell, scan_cancelled (self) ? "cancelled" : "not-tried", g_strdup (why),
                     NULL, FALSE);
    }
  finish_cell (self->control, scan_cancelled (self) ? "cancelled" : "not-tried", g_strdup (why),
               NULL, FALSE);
}

static void
on_resolved (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(DoctorPortScan) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;
  GList *list;

  list = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);

  if (list == NULL)
    {
      self->resolve_error = g_error_copy (error);
      if (scan_cancelled (self))
        why = g_strdup (_("Cancelled"));
      else if (doctor_deadline_expired (self->dns_deadline))
        why = g_strdup_printf (_("Not tried: no answer from the DNS server about %s"), self->host);
      else
        why = g_strdup_printf (_("Not tried: the name %s could not be resolved (%s)"),
                               self->host, error->message);
      finish_not_tried (self, why);
      return;
    }

  /* The first address, in the system's preferred order; the diagnosis compares families. */
  self->address = g_object_ref (list->data);
  g_resolver_free_addresses (list);
  g_clear_pointer (&self->dns_deadline, doctor_deadline_free);
  start_cells (self);
}

static void
doctor_port_scan_finalize (GObject *object)
{
  DoctorPortScan *self = (DoctorPortScan *)object;

  g_clear_pointer (&self->host, g_free);
  g_clear_object (&self->address);
  g_clear_object (&self->ca_database);
  g_clear_pointer (&self->helo_name, g_free);
  g_clear_pointer (&self->cells, g_ptr_array_unref);
  g_clear_pointer (&self->control, cell_free);
  g_clear_object (&self->task);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->dns_deadline, doctor_deadline_free);
  g_clear_error (&self->resolve_error);

  G_OBJECT_CLASS (doctor_port_scan_parent_class)->finalize (object);
}

static void
doctor_port_scan_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  DoctorPortScan *self = DOCTOR_PORT_SCAN (object);

  switch (prop_id)
    {
    case PROP_FINISHED:
      g_value_set_boolean (value, self->finished);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
doctor_port_scan_class_init (DoctorPortScanClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = doctor_port_scan_finalize;
  object_class->get_property = doctor_port_scan_get_property;

  properties[PROP_FINISHED] =
    g_param_spec_boolean ("finished", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * DoctorPortScan::cell-finished:
   * @self: the scan
   * @index: the cell's index in doctor_port_scan_get_cells()
   * @cell: the cell, the same one as in doctor_port_scan_get_cells()
   *
   * A cell of the matrix has its result. Not emitted for the control cell.
   */
  signals[CELL_FINISHED] =
    g_signal_new ("cell-finished",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_UINT,
                  DOCTOR_TYPE_PORT_CELL | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
doctor_port_scan_init (DoctorPortScan *self)
{
  self->cells = g_ptr_array_new_with_free_func ((GDestroyNotify) cell_free);
}

/**
 * doctor_port_scan_new:
 * @host: the host name the user gave (the name certificates must carry), or an IP address
 * @address: (nullable): the address to probe; NULL to resolve @host and take its first address
 * @timeout_ms: each cell's deadline; 0 for the default
 * @ca_database: (nullable): CA certificates trusted on top of the system's
 */
DoctorPortScan *
doctor_port_scan_new (const char   *host,
                      GInetAddress *address,
                      guint         timeout_ms,
                      GTlsDatabase *ca_database)
{
  DoctorPortScan *self;

  g_return_val_if_fail (host != NULL && *host != '\0', NULL);
  g_return_val_if_fail (address == NULL || G_IS_INET_ADDRESS (address), NULL);
  g_return_val_if_fail (ca_database == NULL || G_IS_TLS_DATABASE (ca_database), NULL);

  self = g_object_new (DOCTOR_TYPE_PORT_SCAN, NULL);
  self->host = g_strdup (host);
  self->address = address != NULL ? g_object_ref (address) : NULL;
  self->timeout_ms = timeout_ms > 0 ? timeout_ms : DOCTOR_DEFAULT_TIMEOUT_SECONDS * 1000;
  self->ca_database = ca_database != NULL ? g_object_ref (ca_database) : NULL;

  /* The table has its final shape before anything runs. */
  for (guint i = 0; i < G_N_ELEMENTS (matrix); i++)
    {
      Cell *cell = cell_new (self, matrix[i].port, matrix[i].security);

      cell->index = i;
      if (i > 0 && matrix[i - 1].port == matrix[i].port)
        {
          Cell *previous = g_ptr_array_index (self->cells, i - 1);

          cell->leader = previous->leader != NULL ? previous->leader : previous;
        }
      g_ptr_array_add (self->cells, cell);
    }

  self->control = cell_new (self, CONTROL_PORT, DOCTOR_SECURITY_NONE);
  self->control->control = TRUE;

  return self;
}

/**
 * doctor_port_scan_set_helo_name:
 * @helo_name: (nullable): the EHLO name; NULL for the local host name or address literal
 *
 * Before the scan runs. The name must have passed doctor_target_validate().
 */
void
doctor_port_scan_set_helo_name (DoctorPortScan *self,
                                const char     *helo_name)
{
  g_return_if_fail (DOCTOR_IS_PORT_SCAN (self));
  g_return_if_fail (!self->started);
  g_return_if_fail (helo_name == NULL || strpbrk (helo_name, "\r\n") == NULL);

  g_free (self->helo_name);
  self->helo_name = helo_name != NULL && *helo_name != '\0' ? g_strdup (helo_name) : NULL;
}

const char *
doctor_port_scan_get_host (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);
  return self->host;
}

/* The address probed: the one given, or the one resolved (NULL until then). */
GInetAddress *
doctor_port_scan_get_address (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);
  return self->address;
}

guint
doctor_port_scan_get_timeout_ms (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), 0);
  return self->timeout_ms;
}

/**
 * doctor_port_scan_run_async:
 *
 * Runs every cell at once on the thread-default main context of the caller. The scan
 * completes when every cell has its result; it fails only when @host cannot be resolved or
 * the scan is cancelled (the cells then say "not-tried" or "cancelled").
 */
void
doctor_port_scan_run_async (DoctorPortScan      *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (DOCTOR_IS_PORT_SCAN (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  self->task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->task, doctor_port_scan_run_async);

  if (self->address != NULL)
    {
      start_cells (self);
      return;
    }

  {
    g_autoptr(GResolver) resolver = g_resolver_get_default ();

    self->dns_deadline = doctor_deadline_new (self->cancellable, self->timeout_ms);
    g_resolver_lookup_by_name_async (resolver, self->host,
                                     doctor_deadline_get_cancellable (self->dns_deadline),
                                     on_resolved, g_object_ref (self));
  }
}

gboolean
doctor_port_scan_run_finish (DoctorPortScan  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
doctor_port_scan_is_finished (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), FALSE);
  return self->finished;
}

/**
 * doctor_port_scan_get_cells:
 *
 * Returns: (transfer none) (element-type DoctorPortCell): the matrix, by port (25, 465, 587,
 *   2525) and within a port SSL/TLS, STARTTLS, no encryption; the same from construction on.
 */
GPtrArray *
doctor_port_scan_get_cells (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);
  return self->cells;
}

/* The cell for @port and @security, or NULL when the matrix has none. */
const DoctorPortCell *
doctor_port_scan_get_cell (DoctorPortScan *self,
                           guint16         port,
                           DoctorSecurity  security)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);

  for (guint i = 0; i < self->cells->len; i++)
    {
      Cell *cell = g_ptr_array_index (self->cells, i);

      if (cell->pub.port == port && cell->pub.security == security)
        return &cell->pub;
    }

  return NULL;
}

/* The connection to port 443 of the same address: "open", or a connection result. */
const DoctorPortCell *
doctor_port_scan_get_control (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);
  return &self->control->pub;
}

/**
 * doctor_port_scan_get_best:
 *
 * The best working setting once the scan finished (RFC 8314: implicit TLS over STARTTLS over
 * plain text, then port 465, 587, 2525, 25), among the cells whose result is "ok". A plain
 * cell is never the best where any TLS was seen: then the TLS problem is the one to fix.
 *
 * Returns: (nullable): the cell, or NULL when none works or the scan has not finished
 */
const DoctorPortCell *
doctor_port_scan_get_best (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);
  return self->best != NULL ? &self->best->pub : NULL;
}

/* The network-level conclusion once the scan finished (the codes are in the header), or NULL
 * when nothing stands out, or the scan was cancelled or could not run. */
const char *
doctor_port_scan_get_diagnosis (DoctorPortScan *self)
{
  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);
  return self->diagnosis;
}

static char *
join_ports (DoctorPortScan *self,
            PortState       state,
            guint          *n)
{
  g_autoptr(GString) str = g_string_new (NULL);
  static const guint16 ports[] = { 25, 465, 587, 2525 };

  *n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      if (port_state (self, ports[i]) != state)
        continue;
      if (str->len > 0)
        g_string_append (str, ", ");
      g_string_append_printf (str, "%u", ports[i]);
      (*n)++;
    }

  return g_string_free (g_steal_pointer (&str), FALSE);
}

/* The port that works best, or failing that the first that answers, for the sentences. */
static guint16
working_port (DoctorPortScan *self)
{
  if (self->best != NULL)
    return self->best->pub.port;

  for (guint p = 0; p < G_N_ELEMENTS (port_preference); p++)
    {
      if (port_state (self, port_preference[p]) == PORT_REACHED)
        return port_preference[p];
    }

  return 0;
}

/* One translated sentence for doctor_port_scan_get_diagnosis(), or NULL. */
char *
doctor_port_scan_get_diagnosis_summary (DoctorPortScan *self)
{
  const char *diagnosis;
  const char *control;
  g_autofree char *blocked = NULL;
  guint n_blocked;

  g_return_val_if_fail (DOCTOR_IS_PORT_SCAN (self), NULL);

  diagnosis = self->diagnosis;
  control = self->control->pub.result;
  if (diagnosis == NULL)
    return NULL;

  if (g_str_equal (diagnosis, "smtp-ports-filtered"))
    {
      if (g_strcmp0 (control, "open") == 0 || g_strcmp0 (control, "refused") == 0)
        return g_strdup_printf (_("No mail port of %s gets through (25, 465, 587, 2525), but "
                                  "the host answers on port %u: this network blocks outgoing "
                                  "mail"), self->host, CONTROL_PORT);
      return g_strdup_printf (_("No mail port of %s gets through (25, 465, 587, 2525), though "
                                "the host refuses some of them, so it is there: this network "
                                "blocks outgoing mail"), self->host);
    }

  if (g_str_equal (diagnosis, "port-25-blocked"))
    {
      guint16 port = working_port (self);

      return g_strdup_printf (_("Port 25 of %s is blocked, while port %u works: many Internet "
                                "providers block port 25; send through port %u"),
                              self->host, port, port);
    }

  if (g_str_equal (diagnosis, "some-ports-filtered"))
    {
      blocked = join_ports (self, PORT_BLOCKED, &n_blocked);
      /* Translators: the first %s is a list of port numbers such as "25, 587" */
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "Port %s of %s is blocked on the way (by this network "
                                           "or a firewall in front of the server), while port "
                                           "%u works",
                                           "Ports %s of %s are blocked on the way (by this "
                                           "network or a firewall in front of the server), "
                                           "while port %u works", n_blocked),
                              blocked, self->host, working_port (self));
    }

  if (g_str_equal (diagnosis, "smtp-ports-closed"))
    return g_strdup_printf (_("%s refuses connections on every mail port (25, 465, 587, 2525): "
                              "it does not accept mail there, or a firewall rejects the "
                              "connections"), self->host);

  if (g_str_equal (diagnosis, "host-unreachable-or-offline"))
    return g_strdup_printf (_("%s answers on no port at all, not even %u: the server is down, "
                              "the address is wrong, or this computer is offline"),
                            self->host, CONTROL_PORT);

  return NULL;
}
