/* doctor-discovery.c: the mail settings of an email address, from DNS and the presets.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two phases, each about one timeout long:
 *
 *  1. Three DNS lookups at once, each with its own deadline: the SRV records of
 *     _submissions._tcp.DOMAIN and _submission._tcp.DOMAIN, and the MX records of DOMAIN
 *     (g_resolver_lookup_records_async, so that a target of "." stays visible: RFC 6186 §3.4,
 *     "the service is decidedly not available"; g_resolver_lookup_service would only fail).
 *     The preset by domain needs no lookup. A lookup that fails or runs out of time gives
 *     nothing, with a note unless the name simply has no such records.
 *  2. One probe per candidate, all at once, each with the same deadline counted from its start.
 *     A probe goes only as far as its mode needs, never further than EHLO:
 *       tls       connect, TLS handshake, greeting, EHLO, QUIT
 *       starttls  connect, greeting, EHLO, STARTTLS, TLS handshake, EHLO, QUIT
 *       none      connect, greeting, EHLO, QUIT
 *     The certificate's trust is that of the diagnosis (the system's store, and the custom CA
 *     on top of it), recorded after the handshake; on an untrusted connection nothing at all is
 *     sent, so the probe ends there without EHLO or QUIT. No AUTH, ever.
 *
 * An MX record names the provider, not the server to submit mail to: a provider matched by
 * its mx_patterns gives the preset's host (with its alternatives). Where some of the preset's
 * regions lie under the pattern that matched (mx.zoho.eu under ".zoho.eu"), those regions'
 * hosts are taken instead, so that the data centre is the domain's own.
 *
 * As in the port scan and the diagnosis, connections go straight to the server, never through
 * a proxy: the question is what this machine's network lets through.
 */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <glib/gi18n-lib.h>

#include "doctor-certificate-private.h"
#include "doctor-deadline-private.h"
#include "doctor-discovery.h"
#include "doctor-error.h"
#include "doctor-smtp-stream-private.h"

#define QUIT_TIMEOUT 2000   /* ms, for the QUIT that nobody waits for */
#define MAX_DOMAIN_BYTES 253

typedef enum
{
  SOURCE_SRV,
  SOURCE_PRESET,
  SOURCE_MX,
  N_SOURCES
} Source;

static const char *const source_names[N_SOURCES] = { "srv", "preset", "mx" };

typedef enum
{
  LOOKUP_SUBMISSIONS,   /* _submissions._tcp: implicit TLS */
  LOOKUP_SUBMISSION,    /* _submission._tcp: STARTTLS */
  LOOKUP_MX,
  N_LOOKUPS
} LookupKind;

typedef enum
{
  STAGE_IDLE,
  STAGE_CONNECT,
  STAGE_HANDSHAKE,
  STAGE_GREETING,
  STAGE_EHLO,
  STAGE_STARTTLS,
  STAGE_DONE,
} Stage;

typedef struct
{
  DoctorCandidate       pub;             /* first: a Probe * is a DoctorCandidate * */

  DoctorDiscovery      *discovery;       /* unowned; every operation in flight holds a ref */
  Source                source;
  guint                 order;           /* in which it was found, for a stable sort */
  guint16               priority;        /* SRV only */
  guint16               weight;

  Stage                 stage;
  DoctorDeadline       *deadline;
  gint64                started_us;
  GSocketConnection    *connection;
  GIOStream            *tls;
  DoctorSmtpStream     *smtp;
  char                 *banner;
  char                 *version;         /* "TLS 1.3" */
  char                 *auth;            /* the AUTH mechanisms offered, or NULL */
  GTlsCertificateFlags  certificate_flags;
  guint                 trusted : 1;
  guint                 tls_up : 1;      /* the conversation goes on over TLS */
} Probe;

typedef struct
{
  DoctorDiscovery *discovery;            /* unowned; the lookup in flight holds a ref */
  LookupKind       kind;
  char            *name;                 /* the name asked: "_submission._tcp.example.com" */
  DoctorDeadline  *deadline;
  GList           *records;              /* (element-type GVariant) */
  GError          *error;
  gboolean         timed_out;
} Lookup;

struct _DoctorDiscovery
{
  GObject                parent_instance;

  char                  *address;
  char                  *domain;         /* ASCII, lower case; NULL when the address has none */
  GError                *parse_error;
  guint                  timeout_ms;
  GTlsDatabase          *ca_database;
  char                  *helo_name;

  Lookup                 lookups[N_LOOKUPS];
  guint                  pending_lookups;
  gboolean               not_offered[2]; /* a "." SRV target, per lookup */
  gboolean               null_mx;
  const DoctorProvider  *preset;         /* by domain */
  GPtrArray             *mx_providers;   /* (element-type DoctorProvider) (transfer none) */
  GPtrArray             *unknown_mx;     /* (element-type utf8): MX hosts of no provider */

  GPtrArray             *candidates;     /* (element-type Probe) */
  GPtrArray             *notes;          /* (element-type utf8) */
  GSocketClient         *client;
  GTask                 *task;
  GCancellable          *cancellable;
  guint                  running;
  const Probe           *best;
  guint                  started : 1;
  guint                  finished : 1;
};

G_DEFINE_FINAL_TYPE (DoctorDiscovery, doctor_discovery, G_TYPE_OBJECT)

G_DEFINE_BOXED_TYPE (DoctorCandidate, doctor_candidate, doctor_candidate_copy,
                     doctor_candidate_free)

G_DEFINE_QUARK (doctor-discovery-error-quark, doctor_discovery_error)

static void start_handshake (Probe *probe);
static void start_greeting  (Probe *probe);
static void start_ehlo      (Probe *probe);

/* Candidates ----------------------------------------------------------------------------------- */

DoctorCandidate *
doctor_candidate_copy (const DoctorCandidate *candidate)
{
  DoctorCandidate *copy;

  g_return_val_if_fail (candidate != NULL, NULL);

  copy = g_new0 (DoctorCandidate, 1);
  copy->host = g_strdup (candidate->host);
  copy->port = candidate->port;
  copy->security = candidate->security;
  copy->source = candidate->source;              /* static strings */
  copy->detail = g_strdup (candidate->detail);
  copy->provider = candidate->provider;          /* kept for the life of the process */
  copy->probe_result = candidate->probe_result;  /* static strings */
  copy->probe_summary = g_strdup (candidate->probe_summary);
  copy->probe_detail = g_strdup (candidate->probe_detail);
  copy->probe_duration_ms = candidate->probe_duration_ms;

  return copy;
}

/* Only for copies: the candidates of a discovery belong to it. */
void
doctor_candidate_free (DoctorCandidate *candidate)
{
  if (candidate == NULL)
    return;

  g_free (candidate->host);
  g_free (candidate->detail);
  g_free (candidate->probe_summary);
  g_free (candidate->probe_detail);
  g_free (candidate);
}

static void
probe_free (Probe *probe)
{
  g_clear_pointer (&probe->deadline, doctor_deadline_free);
  g_clear_object (&probe->smtp);
  g_clear_object (&probe->tls);
  g_clear_object (&probe->connection);
  g_free (probe->banner);
  g_free (probe->version);
  g_free (probe->auth);
  g_free (probe->pub.host);
  g_free (probe->pub.detail);
  g_free (probe->pub.probe_summary);
  g_free (probe->pub.probe_detail);
  g_free (probe);
}

/* For the data of an asynchronous call: keeps the discovery, and so the probe, alive until the
 * callback, which takes the reference over with
 *   g_autoptr(DoctorDiscovery) self = probe->discovery; */
static Probe *
probe_hold (Probe *probe)
{
  g_object_ref (probe->discovery);
  return probe;
}

static guint
seconds (guint ms)
{
  return (ms + 999) / 1000;
}

static gboolean
discovery_cancelled (DoctorDiscovery *self)
{
  return self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable);
}

static guint
remaining_ms (Probe *probe)
{
  gint64 spent = (g_get_monotonic_time () - probe->started_us) / 1000;
  gint64 left = (gint64) probe->discovery->timeout_ms - spent;

  return (guint) CLAMP (left, 1, G_MAXUINT);
}

static GCancellable *
probe_cancellable (Probe *probe)
{
  return doctor_deadline_get_cancellable (probe->deadline);
}

static gboolean
probe_expired (Probe *probe)
{
  return probe->deadline != NULL && doctor_deadline_expired (probe->deadline);
}

static const char *
mode_label (const Probe *probe)
{
  return doctor_security_get_label (probe->pub.security);
}

static int
security_rank (DoctorSecurity security)
{
  /* RFC 8314 §3: implicit TLS first. */
  switch (security)
    {
    case DOCTOR_SECURITY_TLS:
      return 0;
    case DOCTOR_SECURITY_STARTTLS:
      return 1;
    case DOCTOR_SECURITY_NONE:
    default:
      return 2;
    }
}

static int
compare_candidates (gconstpointer a,
                    gconstpointer b)
{
  const Probe *x = *(const Probe *const *) a;
  const Probe *y = *(const Probe *const *) b;

  if (x->source != y->source)
    return x->source < y->source ? -1 : 1;
  if (security_rank (x->pub.security) != security_rank (y->pub.security))
    return security_rank (x->pub.security) < security_rank (y->pub.security) ? -1 : 1;
  /* RFC 2782: the lowest priority first; of the same priority, the heaviest first (in place of
   * the weighted random choice: the order of the list is stable, and every one is tried). */
  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  if (x->weight != y->weight)
    return x->weight > y->weight ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* "mail.example.com." and "MAIL.example.com" are the same host. */
static char *
normalize_host (const char *host)
{
  char *name = g_ascii_strdown (host, -1);
  gsize length = strlen (name);

  if (length > 0 && name[length - 1] == '.')
    name[length - 1] = '\0';

  return name;
}

/* Adds a candidate, or, when the same setting is there already from an earlier source, only
 * says where else it was found. Takes @detail. */
static void
add_candidate (DoctorDiscovery      *self,
               Source                source,
               const char           *host,
               guint16               port,
               DoctorSecurity        security,
               const DoctorProvider *provider,
               guint16               priority,
               guint16               weight,
               char                 *detail)
{
  g_autofree char *name = normalize_host (host);
  Probe *probe;

  for (guint i = 0; i < self->candidates->len; i++)
    {
      Probe *other = g_ptr_array_index (self->candidates, i);
      char *joined;

      if (!g_str_equal (other->pub.host, name) || other->pub.port != port ||
          other->pub.security != security)
        continue;

      /* Translators: what a candidate came from, then another source that gave it too */
      joined = g_strdup_printf (_("%s; also %s"), other->pub.detail, detail);
      g_free (other->pub.detail);
      other->pub.detail = joined;
      if (other->pub.provider == NULL)
        other->pub.provider = provider;
      g_free (detail);
      return;
    }

  probe = g_new0 (Probe, 1);
  probe->discovery = self;
  probe->source = source;
  probe->order = self->candidates->len;
  probe->priority = priority;
  probe->weight = weight;
  probe->pub.host = g_steal_pointer (&name);
  probe->pub.port = port;
  probe->pub.security = security;
  probe->pub.source = source_names[source];
  probe->pub.detail = detail;
  probe->pub.provider = provider;
  g_ptr_array_add (self->candidates, probe);
}

/* The provider's settings on @host: its port and security mode, then its alternatives. A region
 * with a port of its own has only that one. */
static void
add_provider_candidates (DoctorDiscovery      *self,
                         Source                source,
                         const DoctorProvider *provider,
                         const char           *host,
                         guint16               region_port,
                         const char           *detail)
{
  add_candidate (self, source, host, region_port > 0 ? region_port : provider->port,
                 provider->security, provider, 0, 0, g_strdup (detail));
  if (region_port > 0)
    return;

  for (guint i = 0; i < provider->alternatives->len; i++)
    {
      const DoctorProviderAlternative *alternative =
        g_ptr_array_index (provider->alternatives, i);

      add_candidate (self, source, host, alternative->port, alternative->security, provider,
                     0, 0, g_strdup (detail));
    }
}

/* Notes ---------------------------------------------------------------------------------------- */

static void
add_note (DoctorDiscovery *self,
          char            *note)
{
  for (guint i = 0; i < self->notes->len; i++)
    {
      if (g_str_equal (g_ptr_array_index (self->notes, i), note))
        {
          g_free (note);
          return;
        }
    }

  g_ptr_array_add (self->notes, note);
}

/* "smtp.fastmail.com (Fastmail)" for a host of a preset, else the host alone. */
static char *
describe_host (const char *host)
{
  const DoctorProvider *provider = doctor_providers_match_host (host);

  if (provider == NULL)
    return g_strdup (host);

  /* Translators: a host name, then the name of its provider */
  return g_strdup_printf (_("%s (%s)"), host, provider->name);
}

static gboolean
in_domain (const char *host,
           const char *domain)
{
  gsize host_length = strlen (host);
  gsize length = strlen (domain);

  return g_str_equal (host, domain) ||
         (host_length > length && g_str_has_suffix (host, domain) &&
          host[host_length - length - 1] == '.');
}

/* The distinct hosts of the SRV candidates, in order. */
static GPtrArray *
srv_hosts (DoctorDiscovery *self)
{
  GPtrArray *hosts = g_ptr_array_new ();

  for (guint i = 0; i < self->candidates->len; i++)
    {
      Probe *probe = g_ptr_array_index (self->candidates, i);
      gboolean seen = FALSE;

      if (probe->source != SOURCE_SRV)
        continue;
      for (guint j = 0; j < hosts->len && !seen; j++)
        seen = g_str_equal (g_ptr_array_index (hosts, j), probe->pub.host);
      if (!seen)
        g_ptr_array_add (hosts, probe->pub.host);
    }

  return hosts;
}

/* What DNS said, and where the sources disagree: known once the lookups are done. */
static void
add_source_notes (DoctorDiscovery *self)
{
  const DoctorProvider *mx_provider = self->mx_providers->len > 0
                                      ? g_ptr_array_index (self->mx_providers, 0) : NULL;
  g_autoptr(GPtrArray) hosts = srv_hosts (self);

  for (guint i = 0; i < hosts->len; i++)
    {
      const char *host = g_ptr_array_index (hosts, i);
      g_autofree char *shown = describe_host (host);

      if (mx_provider != NULL && !doctor_provider_has_host (mx_provider, host))
        /* Translators: "The SRV record points to mail.example.com, but the MX records belong
         * to Gmail / Google Workspace" */
        add_note (self, g_strdup_printf (_("The SRV record points to %s, but the MX records "
                                           "belong to %s"), shown, mx_provider->name));

      if (self->preset != NULL && !doctor_provider_has_host (self->preset, host))
        add_note (self, g_strdup_printf (_("The SRV record points to %s, but the built-in "
                                           "settings for %s use %s (%s)"), shown, self->domain,
                                         self->preset->host, self->preset->name));

      /* RFC 6186 §6: an SRV answer can be forged where DNSSEC does not protect it. */
      if (!in_domain (host, self->domain) && doctor_providers_match_host (host) == NULL &&
          (mx_provider == NULL || !doctor_provider_has_host (mx_provider, host)))
        add_note (self, g_strdup_printf (_("The SRV record of %s points outside the domain, to "
                                           "%s: make sure that this is the provider you "
                                           "expect, as a DNS answer can be forged"),
                                         self->domain, host));
    }

  if (self->preset != NULL && mx_provider != NULL && mx_provider != self->preset)
    add_note (self, g_strdup_printf (_("The built-in settings for %s are those of %s, but its "
                                       "MX records belong to %s"), self->domain,
                                     self->preset->name, mx_provider->name));

  for (guint i = 1; i < self->mx_providers->len; i++)
    {
      const DoctorProvider *other = g_ptr_array_index (self->mx_providers, i);

      add_note (self, g_strdup_printf (_("The MX records of %s belong to more than one "
                                         "provider: %s and %s"), self->domain,
                                       mx_provider->name, other->name));
    }

  if (self->not_offered[LOOKUP_SUBMISSIONS])
    add_note (self, g_strdup_printf (_("The DNS of %s says that it offers no mail submission "
                                       "with SSL/TLS (the SRV record _submissions._tcp has the "
                                       "target “.”)"), self->domain));
  if (self->not_offered[LOOKUP_SUBMISSION])
    add_note (self, g_strdup_printf (_("The DNS of %s says that it offers no mail submission "
                                       "with STARTTLS (the SRV record _submission._tcp has the "
                                       "target “.”)"), self->domain));
  if (self->null_mx)
    add_note (self, g_strdup_printf (_("%s accepts no mail at all: its MX record is the null "
                                       "MX “.” (RFC 7505)"), self->domain));

  for (guint i = 0; i < N_LOOKUPS; i++)
    {
      Lookup *lookup = &self->lookups[i];

      if (lookup->timed_out)
        add_note (self, g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                      "The DNS server did not answer about %s "
                                                      "within %u second",
                                                      "The DNS server did not answer about %s "
                                                      "within %u seconds",
                                                      seconds (self->timeout_ms)),
                                         lookup->name, seconds (self->timeout_ms)));
      else if (lookup->error != NULL &&
               !g_error_matches (lookup->error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND) &&
               !g_error_matches (lookup->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        /* Translators: a DNS name, then the error */
        add_note (self, g_strdup_printf (_("The DNS lookup of %s failed: %s"), lookup->name,
                                         lookup->error->message));
    }
}

/* A source none of whose candidates works. */
static void
add_probe_notes (DoctorDiscovery *self)
{
  for (Source source = 0; source < N_SOURCES; source++)
    {
      const Probe *first = NULL;
      gboolean ok = FALSE;

      for (guint i = 0; i < self->candidates->len; i++)
        {
          const Probe *probe = g_ptr_array_index (self->candidates, i);

          if (probe->source != source)
            continue;
          if (first == NULL)
            first = probe;
          ok |= g_strcmp0 (probe->pub.probe_result, "ok") == 0;
        }

      if (first == NULL || ok)
        continue;

      switch (source)
        {
        case SOURCE_SRV:
          add_note (self, g_strdup_printf (_("The SRV records of %s point to %s, but it could "
                                             "not be verified: %s"), self->domain,
                                           first->pub.host, first->pub.probe_summary));
          break;

        case SOURCE_PRESET:
          add_note (self, g_strdup_printf (_("The built-in settings for %s (%s) could not be "
                                             "verified: %s"), self->domain,
                                           self->preset->name, first->pub.probe_summary));
          break;

        case SOURCE_MX:
        case N_SOURCES:
        default:
          /* Translators: "The MX records of example.com belong to Microsoft 365 / Exchange
           * Online, but its server smtp.office365.com could not be verified: …" */
          add_note (self, g_strdup_printf (_("The MX records of %s belong to %s, but its server "
                                             "%s could not be verified: %s"), self->domain,
                                           first->pub.provider->name, first->pub.host,
                                           first->pub.probe_summary));
          break;
        }
    }
}

/* The end ------------------------------------------------------------------------------------- */

static const Probe *
find_best (DoctorDiscovery *self)
{
  /* The candidates are in the order of preference already. */
  for (guint i = 0; i < self->candidates->len; i++)
    {
      const Probe *probe = g_ptr_array_index (self->candidates, i);

      if (g_strcmp0 (probe->pub.probe_result, "ok") == 0)
        return probe;
    }

  return NULL;
}

static void
complete (DoctorDiscovery *self,
          GError          *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);

  self->finished = TRUE;

  if (discovery_cancelled (self))
    {
      g_clear_error (&error);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("The search for mail settings was cancelled"));
    }
  else if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
maybe_complete (DoctorDiscovery *self)
{
  if (self->running > 0 || self->task == NULL)
    return;

  self->best = find_best (self);
  if (!discovery_cancelled (self))
    add_probe_notes (self);
  complete (self, NULL);
}

/* The MX hosts that no provider claims, "mx1.example.org, mx2.example.org". */
static char *
join_strings (GPtrArray *strings)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < strings->len; i++)
    {
      if (i > 0)
        g_string_append (text, ", ");
      g_string_append (text, g_ptr_array_index (strings, i));
    }

  return g_string_free (g_steal_pointer (&text), FALSE);
}

static GError *
not_found_error (DoctorDiscovery *self)
{
  gboolean dns_failed = FALSE;

  for (guint i = 0; i < N_LOOKUPS; i++)
    {
      const GError *error = self->lookups[i].error;

      dns_failed |= self->lookups[i].timed_out ||
                    (error != NULL &&
                     !g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND));
    }

  if (self->not_offered[LOOKUP_SUBMISSIONS] && self->not_offered[LOOKUP_SUBMISSION])
    return g_error_new (DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_NOT_FOUND,
                        _("No mail settings could be found for %s: its DNS says that it offers "
                          "no mail submission"), self->domain);

  if (self->null_mx)
    return g_error_new (DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_NOT_FOUND,
                        _("No mail settings could be found for %s: it accepts no mail at all "
                          "(its MX record is the null MX “.”), it has no SRV records for mail "
                          "submission, and there are no built-in settings for it"),
                        self->domain);

  if (dns_failed)
    return g_error_new (DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_NOT_FOUND,
                        _("No mail settings could be found for %s: the DNS lookups failed, and "
                          "there are no built-in settings for it"), self->domain);

  if (self->unknown_mx->len > 0)
    {
      g_autofree char *hosts = join_strings (self->unknown_mx);

      return g_error_new (DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_NOT_FOUND,
                          _("No mail settings could be found for %s: it has no SRV records for "
                            "mail submission, its MX records (%s) belong to no provider that "
                            "SMTP Doctor knows, and there are no built-in settings for it"),
                          self->domain, hosts);
    }

  return g_error_new (DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_NOT_FOUND,
                      _("No mail settings could be found for %s: it has no SRV records for mail "
                        "submission and no MX records, and there are no built-in settings for "
                        "it"), self->domain);
}

/* The end of a probe --------------------------------------------------------------------------- */

static void
close_stream (GIOStream *stream)
{
  /* Nobody waits for this. */
  g_io_stream_close_async (stream, G_PRIORITY_LOW, NULL, NULL, NULL);
}

static void
release_connection (Probe    *probe,
                    gboolean  quit)
{
  if (probe->smtp != NULL && quit)
    doctor_smtp_stream_quit (probe->smtp, QUIT_TIMEOUT);
  else if (probe->smtp != NULL)
    close_stream (doctor_smtp_stream_get_stream (probe->smtp));
  else if (probe->tls != NULL)
    close_stream (probe->tls);
  else if (probe->connection != NULL)
    close_stream (G_IO_STREAM (probe->connection));

  g_clear_object (&probe->smtp);
  g_clear_object (&probe->tls);
  g_clear_object (&probe->connection);
}

/* Gives the probe its result (taking @summary and @detail) and lets go of its connection, with
 * QUIT when @quit. Called only from the probe's own callbacks, with nothing in flight. */
static void
finish_probe (Probe      *probe,
              const char *result,
              char       *summary,
              char       *detail,
              gboolean    quit)
{
  DoctorDiscovery *self = probe->discovery;

  g_assert (probe->stage != STAGE_DONE);

  if (discovery_cancelled (self))
    {
      g_free (summary);
      g_free (detail);
      result = "cancelled";
      summary = g_strdup (_("Cancelled"));
      detail = NULL;
      quit = FALSE;
    }

  probe->stage = STAGE_DONE;
  probe->pub.probe_result = result;
  probe->pub.probe_summary = summary;
  probe->pub.probe_detail = detail;
  probe->pub.probe_duration_ms = (g_get_monotonic_time () - probe->started_us) / 1000;

  release_connection (probe, quit);
  g_clear_pointer (&probe->deadline, doctor_deadline_free);

  self->running--;
  maybe_complete (self);
}

/* A failed command: a deadline, a broken or closed stream. */
static char *
stream_error_text (Probe        *probe,
                   const GError *error)
{
  if (probe_expired (probe) || g_error_matches (error, DOCTOR_ERROR, DOCTOR_ERROR_TIMEOUT))
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "no reply within %u second",
                                         "no reply within %u seconds",
                                         seconds (probe->discovery->timeout_ms)),
                            seconds (probe->discovery->timeout_ms));

  return g_strdup (error->message);
}

static void
finish_stream_error (Probe        *probe,
                     const GError *error,
                     const char   *command)
{
  g_autofree char *text = stream_error_text (probe, error);

  finish_probe (probe, "greeting-failed",
                /* Translators: "mail.example.com, port 587: no answer to EHLO (no reply within
                 * 5 seconds)" */
                g_strdup_printf (_("%s, port %u: no answer to %s (%s)"), probe->pub.host,
                                 probe->pub.port, command, text),
                g_steal_pointer (&text), FALSE);
}

/* "554 5.7.1 No service for you", made safe. */
static char *
reply_text (const DoctorReply *reply)
{
  g_autofree char *text = doctor_reply_join_text (reply);

  return g_strdup_printf ("%u %s", reply->code, text);
}

/* The conversation ----------------------------------------------------------------------------- */

/* Over TLS, trusted, EHLO answered: the setting works. */
static void
finish_works (Probe *probe)
{
  g_autoptr(GString) detail = g_string_new (NULL);
  char *summary;

  if (probe->version != NULL)
    g_string_append_printf (detail, "%s; ", probe->version);
  g_string_append (detail, probe->banner != NULL ? probe->banner : "");
  if (probe->auth != NULL)
    g_string_append_printf (detail, "; AUTH %s", probe->auth);
  else
    g_string_append_printf (detail, "; %s", _("no AUTH offered"));

  if (probe->pub.security == DOCTOR_SECURITY_NONE)
    summary = g_strdup_printf (_("%s works on port %u, but only without encryption"),
                               probe->pub.host, probe->pub.port);
  else
    /* Translators: "smtp.example.com works with SSL/TLS on port 465 (TLS 1.3)" */
    summary = g_strdup_printf (_("%s works with %s on port %u (%s)"), probe->pub.host,
                               mode_label (probe), probe->pub.port,
                               probe->version != NULL ? probe->version : _("TLS"));

  finish_probe (probe, "ok", summary, g_string_free (g_steal_pointer (&detail), FALSE), TRUE);
}

static void
finish_untrusted (Probe *probe)
{
  /* Nothing more is sent over this connection, not even QUIT. */
  g_clear_object (&probe->smtp);

  finish_probe (probe, "certificate-untrusted",
                /* Translators: "mail.example.com speaks SMTP with SSL/TLS on port 465 (TLS 1.3),
                 * but its certificate is not trusted" */
                g_strdup_printf (_("%s speaks SMTP with %s on port %u (%s), but its certificate "
                                   "is not trusted"), probe->pub.host, mode_label (probe),
                                 probe->pub.port,
                                 probe->version != NULL ? probe->version : _("TLS")),
                doctor_certificate_flags_summary (probe->certificate_flags), FALSE);
}

static void
read_capabilities (Probe             *probe,
                   const DoctorReply *reply,
                   gboolean          *starttls)
{
  *starttls = FALSE;
  g_clear_pointer (&probe->auth, g_free);

  /* The first line is the server's name; each further one a keyword with its parameters. */
  for (guint i = 1; i < reply->lines->len; i++)
    {
      const char *line = g_ptr_array_index (reply->lines, i);

      if (g_ascii_strncasecmp (line, "STARTTLS", 8) == 0 && (line[8] == '\0' || line[8] == ' '))
        *starttls = TRUE;
      else if (g_ascii_strncasecmp (line, "AUTH ", 5) == 0 && probe->auth == NULL)
        probe->auth = g_strstrip (g_strdup (line + 5));
    }
}

static void
on_starttls (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(DoctorDiscovery) self = probe->discovery;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (reply == NULL)
    {
      finish_stream_error (probe, error, "STARTTLS");
      return;
    }

  if (reply->code != 220)
    {
      char *shown = reply_text (reply);

      finish_probe (probe, reply->code == 421 ? "greeting-failed" : "tls-failed",
                    /* Translators: a host, a port number, then the server's reply */
                    g_strdup_printf (_("%s offers STARTTLS on port %u but refused it (%s)"),
                                     probe->pub.host, probe->pub.port, shown),
                    shown, TRUE);
      return;
    }

  if (doctor_smtp_stream_has_pending_input (probe->smtp))
    {
      /* Whatever came with the 220 was written before the handshake by whoever sits on the
       * path. Nothing more is sent on this connection. */
      g_clear_object (&probe->smtp);
      finish_probe (probe, "tls-failed",
                    g_strdup_printf (_("%s, port %u: the server sent more data right after "
                                       "accepting STARTTLS; someone on the network may be "
                                       "injecting commands"), probe->pub.host, probe->pub.port),
                    g_strdup (_("data after the 220 reply to STARTTLS")), FALSE);
      return;
    }

  start_handshake (probe);
}

static void
on_ehlo (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(DoctorDiscovery) self = probe->discovery;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean starttls;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (reply == NULL)
    {
      finish_stream_error (probe, error, "EHLO");
      return;
    }

  if (reply->code != 250)
    {
      char *shown = reply_text (reply);

      finish_probe (probe, "greeting-failed",
                    /* Translators: a host, a port number, then the server's reply */
                    g_strdup_printf (_("%s, port %u: the server refused EHLO (%s)"),
                                     probe->pub.host, probe->pub.port, shown),
                    shown, FALSE);
      return;
    }

  read_capabilities (probe, reply, &starttls);

  if (probe->tls_up || probe->pub.security == DOCTOR_SECURITY_NONE)
    {
      finish_works (probe);
      return;
    }

  if (!starttls)
    {
      finish_probe (probe, "starttls-not-offered",
                    g_strdup_printf (_("%s answers on port %u, but does not offer STARTTLS"),
                                     probe->pub.host, probe->pub.port),
                    g_strdup (probe->banner), TRUE);
      return;
    }

  probe->stage = STAGE_STARTTLS;
  doctor_smtp_stream_command_async (probe->smtp, "STARTTLS", NULL, remaining_ms (probe),
                                    probe_cancellable (probe), on_starttls, probe_hold (probe));
}

static char *
make_helo_name (Probe *probe)
{
  const char *host = g_get_host_name ();
  g_autoptr(GSocketAddress) local = NULL;
  g_autofree char *ip = NULL;
  gboolean valid = strchr (host, '.') != NULL && strlen (host) < 250;

  if (probe->discovery->helo_name != NULL)
    return g_strdup (probe->discovery->helo_name);

  /* As the diagnosis does: a name with a domain, else the address literal (RFC 5321 §4.1.3). */
  for (const char *p = host; valid && *p; p++)
    valid = g_ascii_isalnum (*p) || *p == '-' || *p == '.';
  if (valid)
    return g_strdup (host);

  local = g_socket_connection_get_local_address (probe->connection, NULL);
  if (local == NULL || !G_IS_INET_SOCKET_ADDRESS (local))
    return g_strdup ("localhost");

  ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  if (g_socket_address_get_family (local) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[IPv6:%s]", ip);

  return g_strdup_printf ("[%s]", ip);
}

static void
start_ehlo (Probe *probe)
{
  g_autofree char *helo = make_helo_name (probe);
  g_autofree char *command = g_strdup_printf ("EHLO %s", helo);

  probe->stage = STAGE_EHLO;
  doctor_smtp_stream_command_async (probe->smtp, command, NULL, remaining_ms (probe),
                                    probe_cancellable (probe), on_ehlo, probe_hold (probe));
}

static void
on_greeting (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(DoctorDiscovery) self = probe->discovery;
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port = probe->pub.port;
  const char *host = probe->pub.host;

  reply = doctor_smtp_stream_command_finish (DOCTOR_SMTP_STREAM (object), result, &error);

  if (reply == NULL)
    {
      g_autofree char *text = stream_error_text (probe, error);
      char *summary;

      if (probe->pub.security == DOCTOR_SECURITY_TLS)
        summary = g_strdup_printf (_("%s, port %u: the TLS handshake worked, but no greeting "
                                     "followed (%s)"), host, port, text);
      else
        summary = g_strdup_printf (_("%s, port %u: connected, but no greeting came (%s); a "
                                     "server that expects SSL/TLS from the start stays silent "
                                     "like this"), host, port, text);
      finish_probe (probe, "greeting-failed", summary, g_steal_pointer (&text), FALSE);
      return;
    }

  probe->banner = reply_text (reply);

  if (reply->code != 220)
    {
      char *summary;

      if (reply->code == 421)
        summary = g_strdup_printf (_("%s, port %u: the server is busy or refuses connections "
                                     "for now (%s)"), host, port, probe->banner);
      else if (reply->code >= 500)
        summary = g_strdup_printf (_("%s, port %u: the server refuses to talk to this computer "
                                     "(%s)"), host, port, probe->banner);
      else
        summary = g_strdup_printf (_("%s, port %u: the server greeted with an unexpected reply "
                                     "(%s)"), host, port, probe->banner);
      finish_probe (probe, "greeting-failed", summary, g_strdup (probe->banner), FALSE);
      return;
    }

  /* Over implicit TLS with a certificate that is not trusted, the greeting is only read. */
  if (probe->tls_up && !probe->trusted)
    {
      finish_untrusted (probe);
      return;
    }

  start_ehlo (probe);
}

static void
start_greeting (Probe *probe)
{
  if (probe->smtp == NULL)
    probe->smtp = doctor_smtp_stream_new (G_IO_STREAM (probe->connection), NULL, NULL);

  probe->stage = STAGE_GREETING;

  /* Not a word before the greeting: behind Postfix' postscreen, a client that talks first is
   * taken for a spammer. */
  doctor_smtp_stream_command_async (probe->smtp, NULL, NULL, remaining_ms (probe),
                                    probe_cancellable (probe), on_greeting, probe_hold (probe));
}

/* TLS ------------------------------------------------------------------------------------------ */

static gboolean
accept_any_certificate (GTlsConnection       *connection,
                        GTlsCertificate      *certificate,
                        GTlsCertificateFlags  errors,
                        gpointer              user_data)
{
  /* The handshake goes on so that the probe can tell whether the server speaks SMTP over TLS;
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

/* The name the certificate must carry: the candidate's host, in its ASCII form. */
static GSocketConnectable *
server_identity (Probe *probe)
{
  return g_network_address_new (probe->pub.host, probe->pub.port);
}

/* Trust as the diagnosis sees it: the system's store, and the custom CA on top of it. */
static void
record_trust (Probe          *probe,
              GTlsConnection *tls)
{
  DoctorDiscovery *self = probe->discovery;
  GTlsCertificate *peer = g_tls_connection_get_peer_certificate (tls);
  GTlsCertificateFlags flags = g_tls_connection_get_peer_certificate_errors (tls);

  if (peer != NULL && (flags & G_TLS_CERTIFICATE_UNKNOWN_CA) && self->ca_database != NULL)
    {
      g_autoptr(GSocketConnectable) identity = server_identity (probe);
      GTlsCertificateFlags custom;

      custom = g_tls_database_verify_chain (self->ca_database, peer,
                                            G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
                                            identity, NULL, G_TLS_DATABASE_VERIFY_NONE,
                                            NULL, NULL);
      if ((custom & G_TLS_CERTIFICATE_UNKNOWN_CA) == 0)
        flags = custom;
    }

  probe->certificate_flags = peer != NULL ? flags : G_TLS_CERTIFICATE_UNKNOWN_CA;
  probe->trusted = peer != NULL && flags == 0;
}

static void
on_handshake (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(DoctorDiscovery) self = probe->discovery;
  GTlsConnection *tls = G_TLS_CONNECTION (object);
  g_autoptr(GError) error = NULL;
  guint16 port = probe->pub.port;
  const char *host = probe->pub.host;

  if (!g_tls_connection_handshake_finish (tls, result, &error))
    {
      char *summary, *detail;

      /* Neither the TLS layer nor the plain text underneath is of use any more. */
      g_clear_object (&probe->smtp);

      if (probe->pub.security == DOCTOR_SECURITY_TLS &&
          g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS))
        {
          finish_probe (probe, "mode-mismatch",
                        g_strdup_printf (_("%s does not speak SSL/TLS from the start on port "
                                           "%u: the server answers in plain text, so it expects "
                                           "STARTTLS or no encryption"), host, port),
                        g_strdup (error->message), FALSE);
          return;
        }

      if (probe_expired (probe))
        {
          detail = g_strdup (_("no TLS answer within the deadline"));
          summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                  "%s, port %u: the TLS handshake did not "
                                                  "finish within %u second",
                                                  "%s, port %u: the TLS handshake did not "
                                                  "finish within %u seconds",
                                                  seconds (self->timeout_ms)),
                                     host, port, seconds (self->timeout_ms));
        }
      else
        {
          detail = g_strdup (error->message);
          summary = g_strdup_printf (_("%s, port %u: the TLS handshake failed: %s"), host, port,
                                     error->message);
        }

      finish_probe (probe, "tls-failed", summary, detail, FALSE);
      return;
    }

  g_free (probe->version);
  probe->version = g_strdup (protocol_version_name (g_tls_connection_get_protocol_version (tls)));
  record_trust (probe, tls);
  probe->tls_up = TRUE;

  if (probe->pub.security == DOCTOR_SECURITY_TLS)
    {
      /* Implicit TLS: the greeting comes over TLS. */
      probe->smtp = doctor_smtp_stream_new (probe->tls, NULL, NULL);
      start_greeting (probe);
      return;
    }

  if (!probe->trusted)
    {
      finish_untrusted (probe);
      return;
    }

  if (!doctor_smtp_stream_upgrade (probe->smtp, probe->tls, &error))
    {
      g_clear_object (&probe->smtp);
      finish_probe (probe, "tls-failed",
                    g_strdup_printf (_("%s, port %u: %s"), host, port, error->message),
                    g_strdup (error->message), FALSE);
      return;
    }

  /* RFC 3207 §4.2: the capabilities again, now over TLS (and AUTH with them). */
  start_ehlo (probe);
}

static void
start_handshake (Probe *probe)
{
  g_autoptr(GSocketConnectable) identity = server_identity (probe);
  g_autoptr(GError) error = NULL;

  probe->stage = STAGE_HANDSHAKE;
  probe->tls = g_tls_client_connection_new (G_IO_STREAM (probe->connection), identity, &error);
  if (probe->tls == NULL)
    {
      finish_probe (probe, "tls-failed",
                    g_strdup_printf (_("TLS is not available on this computer (%s); install "
                                       "glib-networking"), error->message),
                    g_strdup (error->message), FALSE);
      return;
    }

  g_signal_connect (probe->tls, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (probe->tls), G_PRIORITY_DEFAULT,
                                    probe_cancellable (probe), on_handshake, probe_hold (probe));
}

/* Connect -------------------------------------------------------------------------------------- */

static void
conclude_connect_error (Probe        *probe,
                        const GError *error)
{
  DoctorDiscovery *self = probe->discovery;
  guint16 port = probe->pub.port;
  const char *host = probe->pub.host;
  const char *result;
  char *summary;

  if (probe_expired (probe) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      result = "timeout";
      summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                              "No answer from %s on port %u within %u second: "
                                              "a firewall may be dropping the connection",
                                              "No answer from %s on port %u within %u seconds: "
                                              "a firewall may be dropping the connection",
                                              seconds (self->timeout_ms)),
                                 host, port, seconds (self->timeout_ms));
    }
  else if (error->domain == G_RESOLVER_ERROR)
    {
      result = "not-tried";
      /* Translators: a host name, then the resolver's error */
      summary = g_strdup_printf (_("Not tried: the name %s could not be resolved (%s)"), host,
                                 error->message);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    {
      result = "refused";
      summary = g_strdup_printf (_("%s refused the connection to port %u: nothing accepts "
                                   "connections there, or a firewall rejects them"), host, port);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    {
      result = "filtered";
      summary = g_strdup_printf (_("A firewall on this computer blocks connections to %s on "
                                   "port %u"), host, port);
    }
  else
    {
      result = "unreachable";
      summary = g_strdup_printf (_("%s cannot be reached on port %u (%s)"), host, port,
                                 error->message);
    }

  finish_probe (probe, result, summary, g_strdup (error->message), FALSE);
}

static void
on_connected (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(DoctorDiscovery) self = probe->discovery;
  g_autoptr(GError) error = NULL;

  probe->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, &error);
  if (probe->connection == NULL)
    {
      conclude_connect_error (probe, error);
      return;
    }

  /* Commands are small and each waits for its reply: Nagle would only add delay. */
  g_socket_set_option (g_socket_connection_get_socket (probe->connection), IPPROTO_TCP,
                       TCP_NODELAY, 1, NULL);

  if (probe->pub.security == DOCTOR_SECURITY_TLS)
    start_handshake (probe);
  else
    start_greeting (probe);
}

static void
start_probe (Probe *probe)
{
  DoctorDiscovery *self = probe->discovery;
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autofree char *ascii = g_hostname_to_ascii (probe->pub.host);

  probe->stage = STAGE_CONNECT;
  probe->started_us = g_get_monotonic_time ();
  probe->deadline = doctor_deadline_new (self->cancellable, self->timeout_ms);

  connectable = g_network_address_new (ascii != NULL ? ascii : probe->pub.host,
                                       probe->pub.port);
  g_socket_client_connect_async (self->client, connectable, probe_cancellable (probe),
                                 on_connected, probe_hold (probe));
}

/* DNS ------------------------------------------------------------------------------------------ */

static gboolean
is_root (const char *target)
{
  return target[0] == '\0' || g_str_equal (target, ".");
}

static void
gather_srv (DoctorDiscovery *self,
            LookupKind       kind)
{
  Lookup *lookup = &self->lookups[kind];
  DoctorSecurity security = kind == LOOKUP_SUBMISSIONS ? DOCTOR_SECURITY_TLS
                                                       : DOCTOR_SECURITY_STARTTLS;

  for (GList *l = lookup->records; l != NULL; l = l->next)
    {
      guint16 priority, weight, port;
      const char *target;

      g_variant_get (l->data, "(qqq&s)", &priority, &weight, &port, &target);

      /* RFC 6186 §3.4 (RFC 2782): the service is decidedly not available at this domain. */
      if (is_root (target))
        {
          self->not_offered[kind] = TRUE;
          continue;
        }
      if (port == 0)
        continue;

      add_candidate (self, SOURCE_SRV, target, port, security,
                     doctor_providers_match_host (target), priority, weight,
                     /* Translators: "SRV _submissions._tcp.example.com priority 0 weight 1" */
                     g_strdup_printf (_("SRV %s priority %u weight %u"), lookup->name,
                                      priority, weight));
    }
}

static gint
compare_mx (gconstpointer a,
            gconstpointer b)
{
  guint16 x, y;

  g_variant_get ((GVariant *) a, "(q&s)", &x, NULL);
  g_variant_get ((GVariant *) b, "(q&s)", &y, NULL);

  return (gint) x - (gint) y;
}

/* The hosts of @provider to submit mail to for an MX host under @pattern (see the top). */
static void
add_mx_candidates (DoctorDiscovery      *self,
                   const DoctorProvider *provider,
                   const char           *pattern,
                   const char           *detail)
{
  const char *suffix = pattern[0] == '.' ? pattern + 1 : pattern;
  gboolean regional = FALSE;

  for (guint i = 0; i < provider->regions->len; i++)
    {
      const DoctorProviderRegion *region = g_ptr_array_index (provider->regions, i);

      if (in_domain (region->host, suffix))
        {
          add_provider_candidates (self, SOURCE_MX, provider, region->host, region->port,
                                   detail);
          regional = TRUE;
        }
    }

  if (!regional)
    add_provider_candidates (self, SOURCE_MX, provider, provider->host, 0, detail);
}

static void
gather_mx (DoctorDiscovery *self)
{
  Lookup *lookup = &self->lookups[LOOKUP_MX];

  lookup->records = g_list_sort (lookup->records, compare_mx);

  for (GList *l = lookup->records; l != NULL; l = l->next)
    {
      const DoctorProvider *provider;
      g_autofree char *detail = NULL;
      g_autofree char *exchange = NULL;
      const char *pattern;
      const char *host;
      guint16 preference;

      g_variant_get (l->data, "(q&s)", &preference, &host);

      /* RFC 7505: the domain accepts no mail. */
      if (is_root (host))
        {
          self->null_mx = TRUE;
          continue;
        }

      exchange = normalize_host (host);
      provider = doctor_providers_match_mx (exchange);
      if (provider == NULL)
        {
          g_ptr_array_add (self->unknown_mx, g_steal_pointer (&exchange));
          continue;
        }

      /* One provider once: its first (most preferred) MX host says where. */
      if (g_ptr_array_find (self->mx_providers, provider, NULL))
        continue;
      g_ptr_array_add (self->mx_providers, (gpointer) provider);

      pattern = doctor_provider_match_mx_pattern (provider, exchange);
      /* Translators: "MX aspmx.l.google.com (preference 1): Gmail / Google Workspace" */
      detail = g_strdup_printf (_("MX %s (preference %u): %s"), exchange, preference,
                                provider->name);
      add_mx_candidates (self, provider, pattern, detail);
    }
}

/* Every lookup has ended: the candidates, then their probes. */
static void
gather (DoctorDiscovery *self)
{
  if (discovery_cancelled (self))
    {
      complete (self, NULL);
      return;
    }

  gather_srv (self, LOOKUP_SUBMISSIONS);
  gather_srv (self, LOOKUP_SUBMISSION);

  if (self->preset != NULL)
    {
      /* Translators: "built-in settings for gmail.com (Gmail / Google Workspace)" */
      g_autofree char *detail = g_strdup_printf (_("built-in settings for %s (%s)"),
                                                 self->domain, self->preset->name);

      add_provider_candidates (self, SOURCE_PRESET, self->preset, self->preset->host, 0,
                               detail);
    }

  gather_mx (self);

  g_ptr_array_sort (self->candidates, compare_candidates);
  add_source_notes (self);

  if (self->candidates->len == 0)
    {
      complete (self, not_found_error (self));
      return;
    }

  /* Counted before any starts: a probe may fail at once. */
  self->running = self->candidates->len;
  for (guint i = 0; i < self->candidates->len; i++)
    start_probe (g_ptr_array_index (self->candidates, i));
}

static void
on_records (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Lookup *lookup = user_data;
  g_autoptr(DoctorDiscovery) self = lookup->discovery;

  lookup->records = g_resolver_lookup_records_finish (G_RESOLVER (object), result,
                                                      &lookup->error);
  lookup->timed_out = lookup->records == NULL && doctor_deadline_expired (lookup->deadline);
  g_clear_pointer (&lookup->deadline, doctor_deadline_free);

  if (--self->pending_lookups == 0)
    gather (self);
}

static void
start_lookups (DoctorDiscovery *self)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  static const char *const prefixes[] = { "_submissions._tcp.", "_submission._tcp.", "" };

  /* Counted before any starts. */
  self->pending_lookups = N_LOOKUPS;

  for (guint i = 0; i < N_LOOKUPS; i++)
    {
      Lookup *lookup = &self->lookups[i];

      lookup->discovery = self;
      lookup->kind = i;
      lookup->name = g_strconcat (prefixes[i], self->domain, NULL);
      lookup->deadline = doctor_deadline_new (self->cancellable, self->timeout_ms);
      /* The callback's data is the lookup; it takes this reference to the discovery over. */
      g_object_ref (self);
      g_resolver_lookup_records_async (resolver, lookup->name,
                                       i == LOOKUP_MX ? G_RESOLVER_RECORD_MX
                                                      : G_RESOLVER_RECORD_SRV,
                                       doctor_deadline_get_cancellable (lookup->deadline),
                                       on_records, lookup);
    }
}

/* The address ---------------------------------------------------------------------------------- */

/**
 * doctor_discovery_parse_domain:
 * @address: "user@example.com", or a bare domain
 * @domain: (out) (optional): the mail domain in ASCII (IDNA) and lower case, without a
 *   trailing dot
 *
 * Returns: %FALSE with a translated error when @address has no mail domain that DNS can be
 *   asked about (none, an address literal, an IP address, a single label, bad characters)
 */
gboolean
doctor_discovery_parse_domain (const char  *address,
                               char       **domain,
                               GError     **error)
{
  g_autofree char *copy = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *shown_name = NULL;
  g_autofree char *ascii = NULL;
  const char *at;
  char *name;
  gsize length;
  guint labels = 0;

  g_return_val_if_fail (address != NULL, FALSE);

  if (!g_utf8_validate (address, -1, NULL))
    {
      g_set_error_literal (error, DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS,
                           _("The address is not valid text"));
      return FALSE;
    }

  copy = g_strstrip (g_strdup (address));
  /* Shown in the messages below: the input as typed, control characters made visible. */
  shown = doctor_text_make_safe (copy, -1);
  at = strrchr (copy, '@');
  name = at != NULL ? (char *) at + 1 : copy;
  length = strlen (name);
  if (length > 0 && name[length - 1] == '.')
    name[--length] = '\0';
  shown_name = doctor_text_make_safe (name, -1);

  if (length == 0)
    {
      g_set_error (error, DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS,
                   _("“%s” has no mail domain, the part after the “@”"), shown);
      return FALSE;
    }

  if (name[0] == '[' || g_hostname_is_ip_address (name))
    {
      g_set_error (error, DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS,
                   _("“%s” names a server by its address, not a mail domain: it has no mail "
                     "settings in DNS"), shown);
      return FALSE;
    }

  ascii = g_hostname_to_ascii (name);
  if (ascii != NULL)
    {
      char *lower = g_ascii_strdown (ascii, -1);

      g_free (ascii);
      ascii = lower;
    }

  /* Letters, digits and inner hyphens, labels of 1 to 63 bytes, 253 in all. */
  for (const char *p = ascii; p != NULL && *p != '\0'; )
    {
      const char *start = p;

      while (g_ascii_isalnum (*p) || *p == '-' || *p == '_')
        p++;
      if (p == start || p - start > 63 || *start == '-' || p[-1] == '-' ||
          (*p != '\0' && *p != '.') || (*p == '.' && p[1] == '\0'))
        {
          labels = 0;
          break;
        }
      labels++;
      if (*p == '.')
        p++;
    }

  if (ascii == NULL || labels == 0 || strlen (ascii) > MAX_DOMAIN_BYTES)
    {
      g_set_error (error, DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS,
                   _("“%s” is not a valid mail domain"), shown_name);
      return FALSE;
    }

  if (labels < 2)
    {
      g_set_error (error, DOCTOR_DISCOVERY_ERROR, DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS,
                   _("“%s” is not a complete mail domain: it needs at least two parts, such as "
                     "example.com"), shown_name);
      return FALSE;
    }

  if (domain != NULL)
    *domain = g_steal_pointer (&ascii);
  return TRUE;
}

/* The object ----------------------------------------------------------------------------------- */

static void
doctor_discovery_finalize (GObject *object)
{
  DoctorDiscovery *self = (DoctorDiscovery *)object;

  for (guint i = 0; i < N_LOOKUPS; i++)
    {
      Lookup *lookup = &self->lookups[i];

      g_free (lookup->name);
      g_clear_pointer (&lookup->deadline, doctor_deadline_free);
      g_list_free_full (lookup->records, (GDestroyNotify) g_variant_unref);
      g_clear_error (&lookup->error);
    }

  g_clear_pointer (&self->address, g_free);
  g_clear_pointer (&self->domain, g_free);
  g_clear_error (&self->parse_error);
  g_clear_object (&self->ca_database);
  g_clear_pointer (&self->helo_name, g_free);
  g_clear_pointer (&self->mx_providers, g_ptr_array_unref);
  g_clear_pointer (&self->unknown_mx, g_ptr_array_unref);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  g_clear_pointer (&self->notes, g_ptr_array_unref);
  g_clear_object (&self->client);
  g_clear_object (&self->task);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (doctor_discovery_parent_class)->finalize (object);
}

static void
doctor_discovery_class_init (DoctorDiscoveryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = doctor_discovery_finalize;
}

static void
doctor_discovery_init (DoctorDiscovery *self)
{
  self->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) probe_free);
  self->notes = g_ptr_array_new_with_free_func (g_free);
  self->mx_providers = g_ptr_array_new ();
  self->unknown_mx = g_ptr_array_new_with_free_func (g_free);
}

/**
 * doctor_discovery_new:
 * @address: "user@example.com", or a bare domain; checked when the discovery runs
 * @timeout_ms: the deadline of each DNS lookup and of each probe; 0 for the default
 * @ca: (nullable): CA certificates trusted on top of the system's
 */
DoctorDiscovery *
doctor_discovery_new (const char   *address,
                      guint         timeout_ms,
                      GTlsDatabase *ca)
{
  DoctorDiscovery *self;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (ca == NULL || G_IS_TLS_DATABASE (ca), NULL);

  self = g_object_new (DOCTOR_TYPE_DISCOVERY, NULL);
  self->address = g_strdup (address);
  self->timeout_ms = timeout_ms > 0 ? timeout_ms : DOCTOR_DEFAULT_TIMEOUT_SECONDS * 1000;
  self->ca_database = ca != NULL ? g_object_ref (ca) : NULL;

  if (!doctor_discovery_parse_domain (address, &self->domain, &self->parse_error))
    g_assert (self->domain == NULL);

  self->client = g_socket_client_new ();
  /* Straight to the server: a proxy would hide what this network lets through. */
  g_socket_client_set_enable_proxy (self->client, FALSE);

  return self;
}

/**
 * doctor_discovery_set_helo_name:
 * @helo_name: (nullable): the EHLO name; NULL for the local host name or address literal
 *
 * Before the discovery runs. The name must have passed doctor_target_validate().
 */
void
doctor_discovery_set_helo_name (DoctorDiscovery *self,
                                const char      *helo_name)
{
  g_return_if_fail (DOCTOR_IS_DISCOVERY (self));
  g_return_if_fail (!self->started);
  g_return_if_fail (helo_name == NULL || strpbrk (helo_name, "\r\n") == NULL);

  g_free (self->helo_name);
  self->helo_name = helo_name != NULL && *helo_name != '\0' ? g_strdup (helo_name) : NULL;
}

const char *
doctor_discovery_get_address (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), NULL);
  return self->address;
}

/* The mail domain in ASCII and lower case, or NULL when the address has none. */
const char *
doctor_discovery_get_domain (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), NULL);
  return self->domain;
}

guint
doctor_discovery_get_timeout_ms (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), 0);
  return self->timeout_ms;
}

/**
 * doctor_discovery_run_async:
 *
 * Looks the domain up and probes every candidate, on the thread-default main context of the
 * caller. Fails with %DOCTOR_DISCOVERY_ERROR_INVALID_ADDRESS for an address without a mail
 * domain, %DOCTOR_DISCOVERY_ERROR_NOT_FOUND when no source gives a candidate, and
 * %G_IO_ERROR_CANCELLED; it succeeds when there are candidates, whether or not one works.
 */
void
doctor_discovery_run_async (DoctorDiscovery     *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (DOCTOR_IS_DISCOVERY (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  self->task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->task, doctor_discovery_run_async);

  if (self->domain == NULL)
    {
      complete (self, g_error_copy (self->parse_error));
      return;
    }

  self->preset = doctor_providers_match_domain (self->domain);
  start_lookups (self);
}

gboolean
doctor_discovery_run_finish (DoctorDiscovery  *self,
                             GAsyncResult     *result,
                             GError          **error)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
doctor_discovery_is_finished (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), FALSE);
  return self->finished;
}

/**
 * doctor_discovery_get_candidates:
 *
 * Returns: (transfer none) (element-type DoctorCandidate): every candidate, in the order of
 *   preference (see the header); empty until the DNS lookups are done, each probe result NULL
 *   until its probe ends
 */
GPtrArray *
doctor_discovery_get_candidates (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), NULL);
  return self->candidates;
}

/**
 * doctor_discovery_get_best:
 *
 * Returns: (nullable): the first candidate, in the order of preference, whose probe says "ok";
 *   NULL when none does or the discovery has not finished
 */
const DoctorCandidate *
doctor_discovery_get_best (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), NULL);
  return self->best != NULL ? &self->best->pub : NULL;
}

/**
 * doctor_discovery_get_notes:
 *
 * Returns: (transfer none) (element-type utf8): translated sentences, once the discovery has
 *   finished (also when it failed): where the sources disagree, what could not be verified,
 *   what DNS said that matters ("." targets, a null MX, lookups that failed)
 */
GPtrArray *
doctor_discovery_get_notes (DoctorDiscovery *self)
{
  g_return_val_if_fail (DOCTOR_IS_DISCOVERY (self), NULL);
  return self->notes;
}
