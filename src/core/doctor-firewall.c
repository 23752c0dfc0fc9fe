/* doctor-firewall.c: what stands between this machine and the server, and what to do about it.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The firewall front end is found from files only (programs on disk, /etc/ufw/ufw.conf,
 * firewalld's runtime directory): nothing is run, nothing needs root. The network's state comes
 * from GNetworkMonitor, the proxy from GProxyResolver. Each fact can be faked by an environment
 * variable (see the header), read before the machine is looked at.
 *
 * The advice is built the way doctor-advice.c builds it: the host in its ASCII form, quoted for
 * the shell only when needed, IPv6 addresses in brackets where a port follows them. The
 * commands never contain a secret, and a proxy is named without its user name or password.
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "doctor-firewall.h"

/* The destination that stands for "any mail server" when no host is given. */
#define PLACEHOLDER_HOST "smtp.example.com"
#define PLACEHOLDER_PORT 587

/* Test seam ---------------------------------------------------------------------------------- */

/* Returns the value of a seam variable, or NULL when it is not set. */
static const char *
seam (const char *name)
{
  return g_getenv (name);
}

static gboolean
seam_boolean (const char *name,
              gboolean   *value)
{
  const char *str = seam (name);

  if (str == NULL)
    return FALSE;

  if (g_str_equal (str, "1") || g_ascii_strcasecmp (str, "true") == 0 ||
      g_ascii_strcasecmp (str, "yes") == 0)
    *value = TRUE;
  else if (g_str_equal (str, "0") || g_ascii_strcasecmp (str, "false") == 0 ||
           g_ascii_strcasecmp (str, "no") == 0 || *str == '\0')
    *value = FALSE;
  else
    {
      g_warning ("%s=%s is neither 1 nor 0; ignored", name, str);
      return FALSE;
    }

  return TRUE;
}

/* Firewall detection ------------------------------------------------------------------------- */

const char *
doctor_firewall_to_string (DoctorFirewall firewall)
{
  switch (firewall)
    {
    case DOCTOR_FIREWALL_NONE:      return "none";
    case DOCTOR_FIREWALL_UFW:       return "ufw";
    case DOCTOR_FIREWALL_FIREWALLD: return "firewalld";
    case DOCTOR_FIREWALL_NFTABLES:  return "nftables";
    case DOCTOR_FIREWALL_IPTABLES:  return "iptables";
    default:                        break;
    }

  g_return_val_if_reached ("none");
}

/* Product names, the same in every language. */
const char *
doctor_firewall_get_label (DoctorFirewall firewall)
{
  switch (firewall)
    {
    case DOCTOR_FIREWALL_NONE:      return _("No firewall");
    case DOCTOR_FIREWALL_UFW:       return "UFW";
    case DOCTOR_FIREWALL_FIREWALLD: return "firewalld";
    case DOCTOR_FIREWALL_NFTABLES:  return "nftables";
    case DOCTOR_FIREWALL_IPTABLES:  return "iptables";
    default:                        break;
    }

  g_return_val_if_reached (NULL);
}

static gboolean
firewall_from_string (const char     *str,
                      DoctorFirewall *firewall)
{
  static const DoctorFirewall all[] = {
    DOCTOR_FIREWALL_NONE, DOCTOR_FIREWALL_UFW, DOCTOR_FIREWALL_FIREWALLD,
    DOCTOR_FIREWALL_NFTABLES, DOCTOR_FIREWALL_IPTABLES,
  };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      if (g_ascii_strcasecmp (str, doctor_firewall_to_string (all[i])) == 0)
        {
          *firewall = all[i];
          return TRUE;
        }
    }

  return FALSE;
}

gboolean
doctor_firewall_in_flatpak (void)
{
  gboolean value;

  if (seam_boolean ("DOCTOR_TEST_FLATPAK", &value))
    return value;

  return g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS);
}

/* @path under @root ("/", or "/run/host" for the host seen from a sandbox). */
static char *
in_root (const char *root,
         const char *path)
{
  return g_build_filename (root, path, NULL);
}

static gboolean
root_has (const char *root,
          const char *path,
          GFileTest   test)
{
  g_autofree char *full = in_root (root, path);

  return g_file_test (full, test);
}

/* Firewall programs live in sbin, which a user's PATH often lacks: look there as well. */
static gboolean
has_program (const char *root,
             const char *name)
{
  static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin" };

  if (g_str_equal (root, "/"))
    {
      g_autofree char *found = g_find_program_in_path (name);

      if (found != NULL)
        return TRUE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (root, dirs[i], name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR) &&
          g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return TRUE;
    }

  return FALSE;
}

/* /etc/ufw/ufw.conf says ENABLED=yes once "ufw enable" has run; the file is world-readable. */
static gboolean
ufw_is_enabled (const char *root)
{
  g_autofree char *path = in_root (root, "/etc/ufw/ufw.conf");
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = g_strstrip (g_strdup (lines[i]));
      char *value;

      if (!g_str_has_prefix (line, "ENABLED"))
        continue;

      value = g_strstrip (line + strlen ("ENABLED"));
      if (*value != '=')
        continue;
      value = g_strstrip (value + 1);
      if (*value == '"' || *value == '\'')
        value++;

      return g_ascii_strncasecmp (value, "yes", 3) == 0;
    }

  return FALSE;
}

/* firewalld keeps its runtime state in /run/firewalld while it runs. */
static gboolean
firewalld_is_running (const char *root)
{
  return root_has (root, "/run/firewalld", G_FILE_TEST_IS_DIR) ||
         root_has (root, "/run/firewalld.pid", G_FILE_TEST_EXISTS) ||
         root_has (root, "/var/run/firewalld.pid", G_FILE_TEST_EXISTS);
}

static gboolean
firewalld_is_installed (const char *root)
{
  return has_program (root, "firewall-cmd") ||
         root_has (root, "/usr/sbin/firewalld", G_FILE_TEST_EXISTS) ||
         root_has (root, "/etc/firewalld", G_FILE_TEST_IS_DIR);
}

static DoctorFirewall
detect_in (const char *root)
{
  gboolean has_ufw = has_program (root, "ufw");

  if (has_ufw && ufw_is_enabled (root))
    return DOCTOR_FIREWALL_UFW;
  if (firewalld_is_running (root) && firewalld_is_installed (root))
    return DOCTOR_FIREWALL_FIREWALLD;
  if (has_ufw)
    return DOCTOR_FIREWALL_UFW;
  if (firewalld_is_installed (root))
    return DOCTOR_FIREWALL_FIREWALLD;
  if (has_program (root, "nft"))
    return DOCTOR_FIREWALL_NFTABLES;
  if (has_program (root, "iptables"))
    return DOCTOR_FIREWALL_IPTABLES;

  return DOCTOR_FIREWALL_NONE;
}

DoctorFirewall
doctor_firewall_detect (void)
{
  const char *str = seam ("DOCTOR_TEST_FIREWALL");
  DoctorFirewall firewall;

  if (str != NULL)
    {
      if (firewall_from_string (str, &firewall))
        return firewall;
      g_warning ("DOCTOR_TEST_FIREWALL=%s is not a firewall front end; ignored", str);
    }

  /* The sandbox's own /usr is the runtime's: only the host's files tell anything. */
  if (doctor_firewall_in_flatpak ())
    {
      if (g_file_test ("/run/host/usr", G_FILE_TEST_IS_DIR) ||
          g_file_test ("/run/host/etc", G_FILE_TEST_IS_DIR))
        return detect_in ("/run/host");
      return DOCTOR_FIREWALL_NONE;
    }

  return detect_in ("/");
}

/* The network -------------------------------------------------------------------------------- */

const char *
doctor_network_state_to_string (DoctorNetworkState state)
{
  switch (state)
    {
    case DOCTOR_NETWORK_NONE:    return "none";
    case DOCTOR_NETWORK_LOCAL:   return "local";
    case DOCTOR_NETWORK_PORTAL:  return "portal";
    case DOCTOR_NETWORK_LIMITED: return "limited";
    case DOCTOR_NETWORK_FULL:    return "full";
    default:                     break;
    }

  g_return_val_if_reached ("full");
}

static gboolean
network_state_from_string (const char         *str,
                           DoctorNetworkState *state)
{
  for (DoctorNetworkState s = DOCTOR_NETWORK_NONE; s <= DOCTOR_NETWORK_FULL; s++)
    {
      if (g_ascii_strcasecmp (str, doctor_network_state_to_string (s)) == 0)
        {
          *state = s;
          return TRUE;
        }
    }

  return FALSE;
}

DoctorNetworkState
doctor_network_get_state (void)
{
  const char *str = seam ("DOCTOR_TEST_CONNECTIVITY");
  GNetworkMonitor *monitor;
  DoctorNetworkState state;

  if (str != NULL)
    {
      if (network_state_from_string (str, &state))
        return state;
      g_warning ("DOCTOR_TEST_CONNECTIVITY=%s is not a connectivity; ignored", str);
    }

  monitor = g_network_monitor_get_default ();
  if (!g_network_monitor_get_network_available (monitor))
    return DOCTOR_NETWORK_NONE;

  switch (g_network_monitor_get_connectivity (monitor))
    {
    case G_NETWORK_CONNECTIVITY_LOCAL:   return DOCTOR_NETWORK_LOCAL;
    case G_NETWORK_CONNECTIVITY_LIMITED: return DOCTOR_NETWORK_LIMITED;
    case G_NETWORK_CONNECTIVITY_PORTAL:  return DOCTOR_NETWORK_PORTAL;
    case G_NETWORK_CONNECTIVITY_FULL:    return DOCTOR_NETWORK_FULL;
    default:                             return DOCTOR_NETWORK_FULL;
    }
}

gboolean
doctor_network_is_available (void)
{
  return doctor_network_get_state () != DOCTOR_NETWORK_NONE;
}

gboolean
doctor_network_is_metered (void)
{
  gboolean value;

  if (seam_boolean ("DOCTOR_TEST_METERED", &value))
    return value;

  return g_network_monitor_get_network_metered (g_network_monitor_get_default ());
}

/* The proxy ---------------------------------------------------------------------------------- */

static gboolean
is_direct (const char *uri)
{
  return uri == NULL || *uri == '\0' || g_ascii_strncasecmp (uri, "direct:", 7) == 0 ||
         g_ascii_strcasecmp (uri, "none") == 0;
}

/* A proxy URI fit to be shown: scheme, host and port, never the user name or password. NULL
 * for a direct connection. */
static char *
proxy_for_display (const char *uri)
{
  g_autoptr(GUri) parsed = NULL;
  g_autofree char *joined = NULL;
  const char *host;

  if (is_direct (uri))
    return NULL;

  parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);
  host = parsed != NULL ? g_uri_get_host (parsed) : NULL;
  if (host == NULL || *host == '\0')
    {
      g_autofree char *scheme = g_uri_parse_scheme (uri);

      /* Nothing that can be taken apart safely: the kind of proxy is all that is said. */
      joined = g_strdup_printf ("%s://", scheme != NULL ? scheme : "proxy");
    }
  else
    {
      joined = g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (parsed), NULL, host,
                           g_uri_get_port (parsed), "", NULL, NULL);
    }

  return g_utf8_make_valid (joined, -1);
}

/* The first proxy (not "direct://") GProxyResolver gives for @uri, or NULL. */
static char *
lookup_proxy (GProxyResolver *resolver,
              const char     *uri)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) proxies = NULL;

  proxies = g_proxy_resolver_lookup (resolver, uri, NULL, &error);
  if (proxies == NULL)
    {
      g_debug ("No proxy for %s: %s", uri, error->message);
      return NULL;
    }

  for (guint i = 0; proxies[i] != NULL; i++)
    {
      if (!is_direct (proxies[i]))
        return proxy_for_display (proxies[i]);
    }

  return NULL;
}

char *
doctor_network_get_proxy (const char *host,
                          guint16     port)
{
  const char *str = seam ("DOCTOR_TEST_PROXY");
  g_autofree char *ascii = NULL;
  g_autofree char *smtp_uri = NULL;
  g_autofree char *web_uri = NULL;
  GProxyResolver *resolver;
  char *proxy;

  if (str != NULL)
    return proxy_for_display (str);

  if (host == NULL || *host == '\0')
    {
      host = PLACEHOLDER_HOST;
      port = PLACEHOLDER_PORT;
    }

  if (!g_hostname_is_ip_address (host) && g_hostname_is_non_ascii (host))
    ascii = g_hostname_to_ascii (host);
  if (ascii != NULL)
    host = ascii;

  resolver = g_proxy_resolver_get_default ();

  /* A SOCKS proxy (or a PAC file) may claim any connection; an HTTP proxy only web ones, but
   * it says that this network lets the web out through it. */
  smtp_uri = g_uri_join (G_URI_FLAGS_NONE, "smtp", NULL, host, port != 0 ? port : -1, "",
                         NULL, NULL);
  proxy = lookup_proxy (resolver, smtp_uri);
  if (proxy != NULL)
    return proxy;

  web_uri = g_uri_join (G_URI_FLAGS_NONE, "http", NULL, host, -1, "/", NULL, NULL);
  return lookup_proxy (resolver, web_uri);
}

static gboolean
is_web_proxy (const char *proxy)
{
  return g_str_has_prefix (proxy, "http:") || g_str_has_prefix (proxy, "https:");
}

char *
doctor_network_describe_for_host (const char *host,
                                  guint16     port)
{
  g_autofree char *proxy = NULL;

  switch (doctor_network_get_state ())
    {
    case DOCTOR_NETWORK_NONE:
      return g_strdup (_("This computer is not connected to a network."));
    case DOCTOR_NETWORK_LOCAL:
      return g_strdup (_("This computer is connected to a local network only, with no route "
                         "to the Internet."));
    case DOCTOR_NETWORK_PORTAL:
      return g_strdup (_("The network asks for a sign-in on its portal page first (a captive "
                         "portal) and lets nothing through until then."));
    case DOCTOR_NETWORK_LIMITED:
      return g_strdup (_("The network reaches only part of the Internet: the system’s "
                         "connectivity check does not get through."));
    case DOCTOR_NETWORK_FULL:
    default:
      break;
    }

  proxy = doctor_network_get_proxy (host, port);
  if (proxy == NULL)
    return NULL;

  if (is_web_proxy (proxy))
    /* Translators: %s is a proxy's address, such as “http://proxy.example.com:3128” */
    return g_strdup_printf (_("A web proxy is set on this computer (%s); mail connections do "
                              "not go through it."), proxy);

  /* Translators: %s is a proxy's address, such as “socks://proxy.example.com:1080” */
  return g_strdup_printf (_("A proxy is set on this computer (%s); SMTP Doctor connects to the "
                            "mail server directly, without it."), proxy);
}

char *
doctor_network_describe (void)
{
  return doctor_network_describe_for_host (NULL, 0);
}

/* Advice ------------------------------------------------------------------------------------- */

/* What a situation calls for. */
typedef enum
{
  NEED_FIREWALL      = 1 << 0,  /* a firewall on this machine can cause it */
  NEED_OTHER_MACHINE = 1 << 1,  /* the same check on Windows and macOS */
  NEED_OTHER_NETWORK = 1 << 2,  /* another network tells this network from the server */
  NEED_PROXY         = 1 << 3,  /* a proxy set for the web says the network filters */
  NEED_NETWORK_STATE = 1 << 4,  /* offline or behind a portal would explain it */
  NEED_ISP_PORT_25   = 1 << 5,  /* port 25 alone is blocked */
} Needs;

#define NEED_BLOCKED (NEED_FIREWALL | NEED_OTHER_MACHINE | NEED_OTHER_NETWORK | NEED_PROXY | \
                      NEED_NETWORK_STATE)

typedef struct
{
  const char *situation;
  Needs       needs;
} Situation;

static const Situation situations[] = {
  { "connection-timeout",          NEED_BLOCKED },
  { "connection-filtered",         NEED_BLOCKED },
  /* A refusal is mostly the server's, but a firewall rule can reset connections too. */
  { "connection-refused",          NEED_FIREWALL | NEED_OTHER_MACHINE | NEED_NETWORK_STATE },
  { "host-unreachable",            NEED_OTHER_NETWORK | NEED_PROXY | NEED_NETWORK_STATE },
  { "network-unreachable",         NEED_NETWORK_STATE },
  { "smtp-ports-filtered",         NEED_BLOCKED },
  /* Something gets through, so the network is up: the ISP's block is all there is to say. */
  { "port-25-blocked",             NEED_ISP_PORT_25 },
  { "some-ports-filtered",         NEED_FIREWALL | NEED_OTHER_MACHINE | NEED_OTHER_NETWORK |
                                   NEED_PROXY },
  { "smtp-ports-closed",           NEED_FIREWALL | NEED_OTHER_MACHINE | NEED_OTHER_NETWORK |
                                   NEED_NETWORK_STATE },
  { "host-unreachable-or-offline", NEED_OTHER_NETWORK | NEED_PROXY | NEED_NETWORK_STATE },
};

typedef struct
{
  DoctorCheck *check;
  const char  *situation;
  const char  *display_host;  /* as the user wrote it, for the texts */
  char        *host;          /* ASCII form, ready for a shell */
  char        *address;       /* "host:port", "[v6]:port", for the texts */
  guint16      port;
  gboolean     is_ip;
  gboolean     is_ipv6;
} Advisor;

/* The same rules as doctor-advice.c, so that both give the same commands. */
static gboolean
is_shell_safe (const char *word)
{
  if (*word == '\0')
    return FALSE;

  for (const char *p = word; *p; p++)
    {
      if (!g_ascii_isalnum (*p) && strchr ("-._/:%@+,", *p) == NULL)
        return FALSE;
    }

  return TRUE;
}

static char *
shell_word (const char *word)
{
  return is_shell_safe (word) ? g_strdup (word) : g_shell_quote (word);
}

static GPtrArray *
commands_new (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

static void commands_add (GPtrArray  *commands,
                          const char *format,
                          ...) G_GNUC_PRINTF (2, 3);

static void
commands_add (GPtrArray  *commands,
              const char *format,
              ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (commands, g_strdup_vprintf (format, args));
  va_end (args);
}

/* Takes @commands (may be NULL). */
static void
advise (Advisor    *self,
        const char *title,
        const char *text,
        GPtrArray  *commands)
{
  g_autoptr(GPtrArray) owned = commands;
  const char *const *list = NULL;

  if (owned != NULL && owned->len > 0)
    {
      g_ptr_array_add (owned, NULL);
      list = (const char *const *) owned->pdata;
    }

  doctor_check_add_advice (self->check, title, text, list);
}

static gboolean
is_situation (Advisor    *self,
              const char *situation)
{
  return g_str_equal (self->situation, situation);
}

/* Which IP versions a rule must cover: an address has one, a name may have both. */
static gboolean
wants_ipv4 (Advisor *self)
{
  return !self->is_ip || !self->is_ipv6;
}

static gboolean
wants_ipv6 (Advisor *self)
{
  return !self->is_ip || self->is_ipv6;
}

/* The commands that show the rules of @firewall and allow the outgoing port. */
static GPtrArray *
firewall_commands (Advisor        *self,
                   DoctorFirewall  firewall)
{
  GPtrArray *commands = commands_new ();

  switch (firewall)
    {
    case DOCTOR_FIREWALL_UFW:
      g_ptr_array_add (commands, g_strdup ("sudo ufw status verbose"));
      commands_add (commands, "sudo ufw allow out %u/tcp", self->port);
      break;

    case DOCTOR_FIREWALL_FIREWALLD:
      g_ptr_array_add (commands, g_strdup ("sudo firewall-cmd --list-all"));
      if (wants_ipv4 (self))
        commands_add (commands, "sudo firewall-cmd --permanent --direct --add-rule ipv4 filter "
                      "OUTPUT 0 -p tcp --dport %u -j ACCEPT", self->port);
      if (wants_ipv6 (self))
        commands_add (commands, "sudo firewall-cmd --permanent --direct --add-rule ipv6 filter "
                      "OUTPUT 0 -p tcp --dport %u -j ACCEPT", self->port);
      g_ptr_array_add (commands, g_strdup ("sudo firewall-cmd --reload"));
      break;

    case DOCTOR_FIREWALL_NFTABLES:
      g_ptr_array_add (commands, g_strdup ("sudo nft list ruleset"));
      /* "insert" puts the rule before any that drops the port; "add" would come after it. */
      commands_add (commands, "sudo nft insert rule inet filter output tcp dport %u accept",
                    self->port);
      break;

    case DOCTOR_FIREWALL_IPTABLES:
      if (wants_ipv4 (self))
        g_ptr_array_add (commands, g_strdup ("sudo iptables -L OUTPUT -n -v"));
      if (wants_ipv6 (self))
        g_ptr_array_add (commands, g_strdup ("sudo ip6tables -L OUTPUT -n -v"));
      if (wants_ipv4 (self))
        commands_add (commands, "sudo iptables -I OUTPUT -p tcp --dport %u -j ACCEPT",
                      self->port);
      if (wants_ipv6 (self))
        commands_add (commands, "sudo ip6tables -I OUTPUT -p tcp --dport %u -j ACCEPT",
                      self->port);
      break;

    case DOCTOR_FIREWALL_NONE:
    default:
      break;
    }

  return commands;
}

static char *
firewall_text (Advisor        *self,
               DoctorFirewall  firewall)
{
  switch (firewall)
    {
    case DOCTOR_FIREWALL_UFW:
      return g_strdup_printf (
        /* Translators: %u is a port number, %s the server and port, such as “smtp.example.com:587” */
        _("This computer has UFW. It lets outgoing connections through unless its outgoing "
          "policy is “deny” or a rule blocks the port. The first command shows its policy and "
          "rules; the second allows outgoing connections to port %u, so that %s can be "
          "reached."),
        self->port, self->address);

    case DOCTOR_FIREWALL_FIREWALLD:
      return g_strdup_printf (
        /* Translators: %u is a port number, %s the server and port, such as “smtp.example.com:587” */
        _("This computer has firewalld. Its zones let outgoing connections through by default, "
          "so it is rarely the cause: the first command shows the settings of the active zone. "
          "If outgoing connections are restricted here, the next commands add a permanent rule "
          "that allows port %u, so that %s can be reached, and load it."),
        self->port, self->address);

    case DOCTOR_FIREWALL_NFTABLES:
      return g_strdup_printf (
        /* Translators: %u is a port number, %s the server and port, such as “smtp.example.com:587” */
        _("This computer has nftables. The first command shows its rules: look for an output "
          "chain with “policy drop”, or a rule that drops or rejects port %u. The second "
          "allows outgoing connections to port %u, so that %s can be reached. The table and "
          "chain names in it (“inet filter”, “output”) may differ on your system: use the ones "
          "the first command shows. The rule lasts until the next restart unless it is also "
          "added to /etc/nftables.conf."),
        self->port, self->port, self->address);

    case DOCTOR_FIREWALL_IPTABLES:
      return g_strdup_printf (
        /* Translators: %u is a port number, %s the server and port, such as “smtp.example.com:587” */
        _("This computer has iptables. The first commands show the rules for outgoing "
          "connections: look for a policy of DROP, or a rule that drops or rejects port %u. "
          "The others put a rule first that allows port %u, so that %s can be reached "
          "(ip6tables does the same for IPv6). It lasts until the next restart unless it is "
          "saved, for example with “sudo netfilter-persistent save”."),
        self->port, self->port, self->address);

    case DOCTOR_FIREWALL_NONE:
    default:
      break;
    }

  return NULL;
}

static void
advise_firewall (Advisor        *self,
                 DoctorFirewall  firewall)
{
  g_autofree char *title = NULL;
  g_autofree char *text = NULL;

  if (firewall == DOCTOR_FIREWALL_NONE)
    {
      /* A refusal is the server's own answer far more often than a firewall's. */
      if (is_situation (self, "connection-refused"))
        return;

      advise (self,
              _("No firewall found on this computer"),
              _("No firewall program (UFW, firewalld, nftables or iptables) was found on this "
                "computer, so the block is probably on the network or in front of the server. "
                "A VPN or a security program with a firewall of its own can still be the "
                "cause."),
              NULL);
      return;
    }

  /* Translators: %u is a port number, %s a firewall's name, such as “UFW” or “firewalld” */
  title = g_strdup_printf (_("Allow port %u in %s"), self->port,
                           doctor_firewall_get_label (firewall));
  text = firewall_text (self, firewall);
  advise (self, title, text, firewall_commands (self, firewall));
}

/* The sandbox can neither see nor change the host's firewall: the commands are for the host. */
static void
advise_flatpak (Advisor        *self,
                DoctorFirewall  firewall)
{
  g_autoptr(GPtrArray) commands = NULL;
  g_autoptr(GString) text = NULL;
  g_autofree char *specific = NULL;

  text = g_string_new (_("SMTP Doctor runs inside a Flatpak sandbox, and the firewall of this "
                         "computer is outside it: the sandbox can neither see nor change it. "
                         "Run the commands below in a terminal on the computer itself (not "
                         "inside the sandbox)."));
  g_string_append_c (text, ' ');

  if (firewall != DOCTOR_FIREWALL_NONE)
    {
      commands = firewall_commands (self, firewall);
      specific = firewall_text (self, firewall);
      g_string_append (text, specific);
    }
  else
    {
      commands = commands_new ();
      g_ptr_array_add (commands, g_strdup ("sudo ufw status verbose"));
      g_ptr_array_add (commands, g_strdup ("sudo firewall-cmd --list-all"));
      g_ptr_array_add (commands, g_strdup ("sudo nft list ruleset"));
      commands_add (commands, "sudo ufw allow out %u/tcp", self->port);
      g_string_append_printf (text,
        /* Translators: %u is a port number */
        _("The first three commands show the rules of UFW, firewalld and nftables: use the one "
          "your system has. With UFW, the fourth allows outgoing connections to port %u."),
        self->port);
    }

  /* Tried on the host, the connection tells whether the sandbox is the difference. */
  commands_add (commands, "nc -zv %s %u", self->host, self->port);
  g_string_append_c (text, ' ');
  g_string_append (text, _("The last command tries the connection from outside the sandbox."));

  advise (self, _("Check the firewall outside the sandbox"), text->str,
          g_steal_pointer (&commands));
}

static void
advise_other_machines (Advisor *self)
{
  g_autoptr(GPtrArray) windows = commands_new ();
  g_autoptr(GPtrArray) mac = commands_new ();
  g_autofree char *windows_text = NULL;
  g_autofree char *mac_text = NULL;

  commands_add (windows, "Test-NetConnection %s -Port %u", self->host, self->port);
  commands_add (windows, "New-NetFirewallRule -DisplayName \"SMTP %u out\" -Direction Outbound "
                "-Protocol TCP -RemotePort %u -Action Allow", self->port, self->port);

  windows_text = g_strdup_printf (
    /* Translators: %u is a port number */
    _("To test the connection from a Windows computer, run the first command in PowerShell: "
      "“TcpTestSucceeded : True” means the port answers. If Microsoft Defender Firewall blocks "
      "it, the second command, in PowerShell run as administrator, allows outgoing connections "
      "to port %u. Antivirus programs with a mail shield often have a firewall setting of "
      "their own."),
    self->port);
  advise (self, _("On a Windows computer"), windows_text, g_steal_pointer (&windows));

  commands_add (mac, "nc -vz %s %u", self->host, self->port);

  mac_text = g_strdup_printf (
    /* Translators: %u is a port number */
    _("To test the connection from a Mac, run the command in Terminal; “succeeded” means port "
      "%u answers. The firewall in System Settings → Network → Firewall blocks only incoming "
      "connections, so it is not the cause: look at other firewall or security programs (such "
      "as Little Snitch, LuLu or an antivirus) and at configuration profiles installed by an "
      "employer or school."),
    self->port);
  advise (self, _("On a Mac"), mac_text, g_steal_pointer (&mac));
}

static void
advise_other_network (Advisor *self)
{
  g_autofree char *text = NULL;
  const char *title = _("Try another network");

  if (is_situation (self, "smtp-ports-filtered"))
    {
      title = _("This network blocks outgoing mail");
      text = g_strdup_printf (
        /* Translators: %s is the server name, %u a port number */
        _("No mail port of “%s” gets through, although the server answers: the network this "
          "computer is on blocks outgoing mail. This is common on hotel, café, guest and school "
          "Wi-Fi and on some company networks. Connect to another network, such as a phone’s "
          "hotspot, or use a VPN, and test again; or ask the network’s administrator or your "
          "Internet provider to allow outgoing connections to port %u."),
        self->display_host, self->port);
    }
  else if (is_situation (self, "some-ports-filtered"))
    {
      text = g_strdup_printf (
        /* Translators: %u is a port number */
        _("Some mail ports are blocked on the way while another one works: using the port that "
          "works is the simplest fix. To use port %u, test from another network, such as a "
          "phone’s hotspot, to tell whether the block is on this network or in front of the "
          "server, then ask the network’s administrator or your Internet provider to open "
          "it."),
        self->port);
    }
  else if (is_situation (self, "host-unreachable") ||
           is_situation (self, "host-unreachable-or-offline"))
    {
      text = g_strdup_printf (
        /* Translators: %s is the server name */
        _("Test from another network, such as a phone’s hotspot, and with a VPN turned off (or "
          "on): if “%s” answers there, the way from this network is broken, and its "
          "administrator or your Internet provider can tell why; if it answers nowhere, the "
          "server is down or its address is wrong."),
        self->display_host);
    }
  else
    {
      g_autoptr(GString) str = g_string_new (NULL);

      g_string_append_printf (str,
        /* Translators: %u is a port number */
        _("To tell whether this network or the server is the cause, connect this computer to "
          "another network, such as a phone’s hotspot, and test again. If it works there, your "
          "usual network blocks the connection: ask its administrator (at work or school) or "
          "your Internet provider to allow outgoing connections to port %u, or use a VPN. "
          "Hotel, café and guest Wi-Fi often block mail ports. If a VPN is on, try once "
          "without it."),
        self->port);

      if (self->port == 25)
        {
          g_string_append_c (str, ' ');
          g_string_append (str, _("Port 25 in particular is blocked by many Internet providers: "
                                  "send through port 587 with STARTTLS or port 465 with "
                                  "SSL/TLS, and log in."));
        }

      text = g_string_free (g_steal_pointer (&str), FALSE);
    }

  advise (self, title, text, NULL);
}

static void
advise_isp_port_25 (Advisor *self)
{
  advise (self,
          _("Your Internet provider probably blocks port 25"),
          _("Port 25 is blocked on the way while other mail ports get through. Many Internet "
            "providers and cloud hosts block port 25, which is meant for mail servers passing "
            "mail to each other, to stop spam from infected computers. To send mail, use port "
            "587 with STARTTLS or port 465 with SSL/TLS, and log in with your account. Only a "
            "mail server of your own needs port 25: ask the provider to unblock it, or send "
            "through a relay (smarthost) on port 587."),
          NULL);
}

/* Returns whether anything was said. */
static gboolean
advise_network_state (Advisor *self)
{
  switch (doctor_network_get_state ())
    {
    case DOCTOR_NETWORK_NONE:
      advise (self,
              _("This computer is not connected"),
              _("The system reports that this computer is not connected to a network, so no "
                "server on the Internet can be reached. Connect to a Wi-Fi network or a cable "
                "and test again."),
              NULL);
      return TRUE;

    case DOCTOR_NETWORK_LOCAL:
      advise (self,
              _("No connection to the Internet"),
              _("The system reports a local network only, with no route to the Internet. A mail "
                "server on the Internet cannot be reached until the connection works: check the "
                "Wi-Fi or the cable and the router."),
              NULL);
      return TRUE;

    case DOCTOR_NETWORK_PORTAL:
      advise (self,
              _("Sign in to the network first"),
              _("This network wants a sign-in before it lets anything through (a captive "
                "portal, as on hotel, train or café Wi-Fi). Open a web browser, sign in to the "
                "network’s portal page first, then test again."),
              NULL);
      return TRUE;

    case DOCTOR_NETWORK_LIMITED:
      advise (self,
              _("The network reaches only part of the Internet"),
              _("The system’s connectivity check does not get through this network: it may "
                "want a sign-in on a portal page, or a firewall on it blocks most connections. "
                "Open a web page to see, and sign in if the network asks."),
              NULL);
      return TRUE;

    case DOCTOR_NETWORK_FULL:
    default:
      return FALSE;
    }
}

static void
advise_proxy (Advisor *self)
{
  g_autofree char *proxy = doctor_network_get_proxy (self->display_host, self->port);
  g_autofree char *text = NULL;

  if (proxy == NULL)
    return;

  if (is_web_proxy (proxy))
    text = g_strdup_printf (
      /* Translators: %s is a proxy's address, %u a port number */
      _("This computer is set to use the web proxy %s. Mail does not go through HTTP proxies: "
        "SMTP Doctor, like mail programs, connects to the mail server directly. A network "
        "where the web works only through a proxy usually blocks all other outgoing "
        "connections: ask its administrator to allow outgoing mail to port %u, or use another "
        "network."),
      proxy, self->port);
  else
    text = g_strdup_printf (
      /* Translators: %s is a proxy's address, %u a port number */
      _("This computer is set to use the proxy %s. SMTP Doctor connects to the mail server "
        "directly, without it, so a mail program set to use the proxy may get through where "
        "this test does not. If this network lets connections out only through the proxy, ask "
        "its administrator to allow outgoing mail to port %u."),
      proxy, self->port);

  advise (self, _("A proxy is set"), text, NULL);
}

static const Situation *
find_situation (const char *situation)
{
  for (guint i = 0; i < G_N_ELEMENTS (situations); i++)
    {
      if (g_str_equal (situations[i].situation, situation))
        return &situations[i];
    }

  return NULL;
}

void
doctor_firewall_add_advice (DoctorCheck        *check,
                            const DoctorTarget *target,
                            guint16             port,
                            const char         *situation)
{
  const Situation *info;
  g_autofree char *ascii = NULL;
  Advisor advisor = { 0 };
  Advisor *self = &advisor;

  g_return_if_fail (DOCTOR_IS_CHECK (check));
  g_return_if_fail (target != NULL);

  if (situation == NULL)
    return;

  /* Most reasons (a wrong name, a refused login) are none of the network's business. */
  info = find_situation (situation);
  if (info == NULL)
    return;

  self->check = check;
  self->situation = info->situation;
  self->display_host = target->host != NULL ? target->host : "";
  self->port = port != 0 ? port : doctor_target_get_port (target);
  self->is_ip = g_hostname_is_ip_address (self->display_host);
  self->is_ipv6 = self->is_ip && strchr (self->display_host, ':') != NULL;

  /* Commands take the name as DNS knows it. */
  if (!self->is_ip && g_hostname_is_non_ascii (self->display_host))
    ascii = g_hostname_to_ascii (self->display_host);
  self->host = shell_word (ascii != NULL ? ascii : self->display_host);

  if (self->is_ipv6)
    self->address = g_strdup_printf ("[%s]:%u", self->display_host, self->port);
  else
    self->address = g_strdup_printf ("%s:%u", self->display_host, self->port);

  /* The most basic cause first: no network at all explains every failure. */
  if (info->needs & NEED_NETWORK_STATE)
    advise_network_state (self);

  if (info->needs & NEED_PROXY)
    advise_proxy (self);

  if (info->needs & NEED_ISP_PORT_25)
    advise_isp_port_25 (self);

  /* When no mail port gets through at all, the network is the likelier cause. */
  if ((info->needs & NEED_OTHER_NETWORK) && is_situation (self, "smtp-ports-filtered"))
    advise_other_network (self);

  if (info->needs & NEED_FIREWALL)
    {
      DoctorFirewall firewall = doctor_firewall_detect ();

      if (doctor_firewall_in_flatpak ())
        advise_flatpak (self, firewall);
      else
        advise_firewall (self, firewall);
    }

  if ((info->needs & NEED_OTHER_NETWORK) && !is_situation (self, "smtp-ports-filtered"))
    advise_other_network (self);

  if (info->needs & NEED_OTHER_MACHINE)
    advise_other_machines (self);

  g_free (self->host);
  g_free (self->address);
}
