/* doctor-advice.c: what to do about a failed or doubtful check.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One function per reason code turns a failure into plain words (what is wrong, what to do)
 * and copyable commands that repeat the failing step by hand. The commands are built from the
 * target only: its host name (in ASCII form, quoted for the shell when needed), its port and
 * its security mode. They never contain a user's secret.
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "doctor-advice.h"
#include "doctor-firewall.h"
#include "doctor-providers.h"

/* Once a reply is quoted in full it stops being advice; the transcript has the rest. */
#define MAX_QUOTED_CHARS 300

typedef struct
{
  DoctorCheck        *check;
  const char         *id;           /* the check's id: one reason can mean different things */
  const DoctorTarget *target;
  const DoctorReply  *reply;
  const char         *display_host; /* as the user wrote it, for the texts */
  char               *host;         /* ASCII form, ready for a shell */
  guint16             port;
  gboolean            is_ip;
  gboolean            is_ipv6;
} Advisor;

typedef void (*AdviceFunc) (Advisor *self);

typedef struct
{
  const char *reason;
  AdviceFunc  func;          /* NULL: there is nothing to advise */
  gboolean    quote_reply;   /* a refusal: the server's own words help */
} ReasonInfo;

/* Commands ---------------------------------------------------------------------------------- */

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

static char *
host_port (Advisor *self,
           guint16  port)
{
  if (self->is_ipv6)
    return g_strdup_printf ("[%s]:%u", self->host, port);

  return g_strdup_printf ("%s:%u", self->host, port);
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

/* The TLS mode that the certificate commands use: STARTTLS unless the target is implicit TLS. */
static DoctorSecurity
tls_security (Advisor *self)
{
  return self->target->security == DOCTOR_SECURITY_TLS ? DOCTOR_SECURITY_TLS
                                                       : DOCTOR_SECURITY_STARTTLS;
}

/* "openssl s_client [-starttls smtp] -connect HOST:PORT [-servername HOST] [-CAfile FILE]" */
static char *
s_client (Advisor        *self,
          DoctorSecurity  security,
          guint16         port,
          gboolean        with_ca)
{
  g_autofree char *address = host_port (self, port);
  GString *str = g_string_new ("openssl s_client");

  if (security != DOCTOR_SECURITY_TLS)
    g_string_append (str, " -starttls smtp");
  g_string_append_printf (str, " -connect %s", address);

  /* Server Name Indication carries names only, never an address. */
  if (!self->is_ip)
    g_string_append_printf (str, " -servername %s", self->host);

  if (with_ca && self->target->ca_file != NULL)
    {
      g_autofree char *ca_file = shell_word (self->target->ca_file);

      g_string_append_printf (str, " -CAfile %s", ca_file);
    }

  return g_string_free (str, FALSE);
}

static void
add_s_client (Advisor        *self,
              GPtrArray      *commands,
              DoctorSecurity  security,
              guint16         port)
{
  g_ptr_array_add (commands, s_client (self, security, port, FALSE));
}

/* The server's certificate chain, verified as the engine does it. */
static void
add_show_certs (Advisor   *self,
                GPtrArray *commands)
{
  g_autofree char *base = s_client (self, tls_security (self), self->port, TRUE);

  commands_add (commands, "%s -showcerts </dev/null", base);
}

/* One field of the server's certificate, e.g. "-dates" or "-subject -ext subjectAltName". */
static void
add_cert_field (Advisor    *self,
                GPtrArray  *commands,
                const char *x509_options)
{
  g_autofree char *base = s_client (self, tls_security (self), self->port, TRUE);

  commands_add (commands, "%s </dev/null 2>/dev/null | openssl x509 -noout %s",
                base, x509_options);
}

static void
add_nc (Advisor   *self,
        GPtrArray *commands,
        guint16    port)
{
  commands_add (commands, "nc -zv %s %u", self->host, port);
}

/* The target's port first, then the other submission ports. */
static void
add_nc_ports (Advisor   *self,
              GPtrArray *commands)
{
  static const guint16 ports[] = { 587, 465, 2525 };

  add_nc (self, commands, self->port);
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      if (ports[i] != self->port)
        add_nc (self, commands, ports[i]);
    }
}

/* A session to type SMTP commands into ("QUIT" ends it), in the target's mode. */
static void
add_session (Advisor   *self,
             GPtrArray *commands)
{
  if (self->target->security == DOCTOR_SECURITY_TLS)
    {
      g_autofree char *base = s_client (self, DOCTOR_SECURITY_TLS, self->port, FALSE);

      commands_add (commands, "%s -crlf -quiet", base);
    }
  else
    {
      commands_add (commands, "nc -Cv %s %u", self->host, self->port);
    }
}

static void
add_dns (Advisor   *self,
         GPtrArray *commands)
{
  commands_add (commands, "getent ahosts %s", self->host);
  commands_add (commands, "resolvectl query %s", self->host);
}

static void
add_clock (Advisor   *self,
           GPtrArray *commands)
{
  g_ptr_array_add (commands, g_strdup ("date"));
  g_ptr_array_add (commands, g_strdup ("timedatectl"));
}

/* Adding advice ----------------------------------------------------------------------------- */

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
at_step (Advisor    *self,
         const char *id)
{
  return g_strcmp0 (self->id, id) == 0;
}

/* Whether the target's host is @domain or a name under it. */
static gboolean
host_in (Advisor    *self,
         const char *domain)
{
  g_autofree char *host = g_ascii_strdown (self->display_host, -1);
  gsize host_len = strlen (host);
  gsize domain_len = strlen (domain);

  if (g_str_equal (host, domain))
    return TRUE;

  return host_len > domain_len &&
         g_str_has_suffix (host, domain) &&
         host[host_len - domain_len - 1] == '.';
}

static gboolean
reply_is_temporary (Advisor *self)
{
  return self->reply != NULL && self->reply->code >= 400 && self->reply->code < 500;
}

/* Port 25 is for servers passing mail on; from a customer line it is often blocked. */
static void
advise_port_25 (Advisor *self)
{
  if (self->port != 25)
    return;

  advise (self,
          _("Port 25 is often blocked"),
          _("Port 25 is meant for mail servers passing mail to each other. Many internet "
            "providers and cloud hosts (such as AWS, Google Cloud and Azure) block it for their "
            "customers. To send mail through your provider, use port 587 with STARTTLS or port "
            "465 with SSL/TLS, and log in."),
          NULL);
}

static void
advise_login_first (Advisor *self)
{
  if (self->target->user != NULL)
    return;

  advise (self,
          _("Log in first"),
          _("No user name was given, so the test did not log in. Most servers accept mail for "
            "delivery only from senders who have logged in with their account: give the user "
            "name and password of your mailbox and try again."),
          NULL);
}

static void
advise_temporary (Advisor *self)
{
  if (!reply_is_temporary (self))
    return;

  advise (self,
          _("Try again later"),
          _("The refusal is temporary (its code starts with 4). The server may be greylisting, "
            "which means asking unknown senders to come back a few minutes later, or a limit "
            "was reached for now. Mail programs retry on their own; try again in a few "
            "minutes."),
          NULL);
}

/* Advice for each reason -------------------------------------------------------------------- */

static void
advise_invalid_input (Advisor *self)
{
  advise (self,
          _("Correct the settings"),
          _("One of the settings cannot be used as it is: a field is missing, or the server "
            "name, the user name or an address contains a character that is not allowed, such "
            "as a line break or a space. Nothing was sent to the server. Check the settings for "
            "characters copied along with the text, and run the test again."),
          NULL);
}

static void
advise_dns_not_found (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_dns (self, commands);

  text = g_strdup_printf (
    /* Translators: %s is the server name. */
    _("The name “%s” does not exist, so there is no server to connect to. This is almost "
      "always a typing error: compare the name letter by letter with the one in your "
      "provider’s setup instructions (for example smtp.gmail.com or smtp.office365.com). The "
      "field takes only the name, without “https://” or an “@”. If the name is only known "
      "inside a company network, connect to that network or its VPN first."),
    self->display_host);

  advise (self, _("Check the server name"), text, g_steal_pointer (&commands));
}

static void
advise_dns_temporary_failure (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  g_ptr_array_add (commands, g_strdup ("resolvectl status"));
  add_dns (self, commands);

  text = g_strdup_printf (
    /* Translators: %s is the server name. */
    _("The name “%s” could not be looked up because no name server (DNS) answered. This is "
      "a problem of your network, not of the mail server: check that you are online and that "
      "a VPN or a Wi-Fi login page (hotel, train, café) is not in the way, then try again in "
      "a minute."),
    self->display_host);

  advise (self, _("Check your internet connection"), text, g_steal_pointer (&commands));
}

static void
advise_connection_refused (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_nc_ports (self, commands);

  text = g_strdup_printf (
    /* Translators: %s is the server name, %u the port number. */
    _("The server “%s” answered, but nothing accepts connections on port %u, or a firewall "
      "turned the connection away. Most often the port is wrong: mail programs send on port "
      "587 (STARTTLS) or 465 (SSL/TLS), and some services also offer 2525. Check the port in "
      "your provider’s instructions, or find an open one with the commands below."),
    self->display_host, self->port);

  advise (self, _("Use the right port"), text, g_steal_pointer (&commands));
  advise_port_25 (self);
}

static void
advise_connection_timeout (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_nc_ports (self, commands);

  text = g_strdup_printf (
    /* Translators: %s is the server name, %u the port number. */
    _("Nothing answered when connecting to “%s” on port %u: the attempts were dropped "
      "without a word. This usually means a firewall is in the way, on this computer, on the "
      "office or hotel network, at your internet provider or in front of the server. Try "
      "ports 587, 465 and 2525 and use one that answers. If none does, try from another "
      "network, such as a phone hotspot: if it works there, your usual network blocks mail "
      "and its administrator or provider has to open the port."),
    self->display_host, self->port);

  advise (self, _("A firewall is probably blocking the port"), text,
          g_steal_pointer (&commands));
  advise_port_25 (self);
}

static void
advise_connection_filtered (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_nc_ports (self, commands);

  text = g_strdup_printf (
    /* Translators: %s is the server name, %u the port number. */
    _("A router or firewall on the way to “%s” answered that connections to port %u are not "
      "allowed. The mail server itself may be fine: the block is on your network, at your "
      "provider or in front of the server. Try ports 587, 465 and 2525. On an office or "
      "school network, ask its administrators to allow outgoing mail to this server; on "
      "this computer, check the firewall settings."),
    self->display_host, self->port);

  advise (self, _("A firewall refused the connection"), text, g_steal_pointer (&commands));
  advise_port_25 (self);
}

static void
advise_host_unreachable (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  commands_add (commands, "tracepath %s", self->host);
  add_nc (self, commands, self->port);

  text = g_strdup_printf (
    /* Translators: %s is the server name. */
    _("Your network found no way to reach the address of “%s”. The server may be down, its "
      "address may be outdated, or a VPN may send the traffic somewhere else. Try again "
      "later, try without the VPN, and look at your provider’s service status page. The "
      "details show which address failed, IPv4 or IPv6."),
    self->display_host);

  advise (self, _("The server cannot be reached"), text, g_steal_pointer (&commands));
}

static void
advise_network_unreachable (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  g_ptr_array_add (commands, g_strdup ("ip route"));
  g_ptr_array_add (commands, g_strdup ("ip -6 route"));
  commands_add (commands, "getent ahosts %s", self->host);

  text = g_strdup_printf (
    /* Translators: %s is the server name. */
    _("This computer has no network route to the address of “%s”. Either it is offline, or "
      "the server has an IPv6 address while your network only has IPv4 (or the other way "
      "round). Check the network connection. If only the IPv6 address fails, your network "
      "lacks working IPv6; mail programs then usually fall back to IPv4."),
    self->display_host);

  advise (self, _("No route to the server"), text, g_steal_pointer (&commands));
}

static void
advise_greeting_timeout (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_session (self, commands);

  text = g_strdup_printf (
    /* Translators: %u is the port number. */
    _("The connection to port %u was made, but the server did not send its greeting (a "
      "line starting with 220) in time. The server may be overloaded, or a program between "
      "you and the server, such as an antivirus mail scanner, a firewall or a proxy, holds "
      "the connection without passing anything on. Try again later, allow more time "
      "(--timeout on the command line), or try from another network."),
    self->port);

  advise (self, _("The server did not greet"), text, g_steal_pointer (&commands));

  if (self->port == 465 && self->target->security != DOCTOR_SECURITY_TLS)
    {
      commands = commands_new ();
      add_s_client (self, commands, DOCTOR_SECURITY_TLS, self->port);
      advise (self,
              _("Port 465 expects SSL/TLS"),
              _("Port 465 is normally used with SSL/TLS (implicit TLS): the server waits for "
                "encryption before it says anything. Set the security to SSL/TLS."),
              g_steal_pointer (&commands));
    }
}

static void
advise_greeting_rejected (Advisor *self)
{
  advise (self,
          _("The server refuses connections from your address"),
          _("The server answered the connection with a refusal. Servers do this when your "
            "internet address is on a spam blocklist, when they accept mail only from certain "
            "networks, or when port 25 is used from a home or office line. Use the submission "
            "port your provider gives (usually 587 or 465) and log in. If it is refused there "
            "too, ask the provider whether your address is blocked; the server’s reply often "
            "names the blocklist."),
          NULL);
}

static void
advise_server_busy (Advisor *self)
{
  if (at_step (self, "greeting") || at_step (self, "connect"))
    {
      advise (self,
              _("The server is busy"),
              _("The server is not taking connections for the moment (code 421). It may be "
                "overloaded or under maintenance, or it limits how many connections one "
                "address may open at a time. Wait a few minutes and try again, and close "
                "other mail programs that may be connected to the same server."),
              NULL);
    }
  else
    {
      advise (self,
              _("The server ended the session"),
              _("The server ended the session with a temporary error (code 421). Usually a "
                "limit was reached, such as too many connections or messages in a short time, "
                "or the server is shutting down for maintenance. Wait a while and try again."),
              NULL);
    }
}

static void
advise_security_mismatch (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  if (at_step (self, "greeting"))
    {
      /* Plain SMTP spoken to a port that waits for a TLS ClientHello. */
      add_s_client (self, commands, DOCTOR_SECURITY_TLS, self->port);
      text = g_strdup_printf (
        /* Translators: %u is the port number. */
        _("Port %u expects encryption from the very first byte (SSL/TLS, also called "
          "implicit TLS), but the connection was made without it, so the server waited "
          "silently. Set the security to SSL/TLS and keep the port. As a rule, port 465 is "
          "used with SSL/TLS and port 587 with STARTTLS."),
        self->port);
      advise (self, _("Choose SSL/TLS for this port"), text, g_steal_pointer (&commands));
    }
  else if (at_step (self, "tls"))
    {
      /* TLS spoken to a port that greets in clear. */
      add_s_client (self, commands, DOCTOR_SECURITY_STARTTLS, self->port);
      text = g_strdup_printf (
        /* Translators: %u is the port number. */
        _("Port %u starts without encryption and switches to it with the STARTTLS command, "
          "but the connection tried to encrypt from the start, which the server does not "
          "understand. Set the security to STARTTLS and keep the port. As a rule, port 587 is "
          "used with STARTTLS and port 465 with SSL/TLS (implicit TLS)."),
        self->port);
      advise (self, _("Choose STARTTLS for this port"), text, g_steal_pointer (&commands));
    }
  else
    {
      add_s_client (self, commands, DOCTOR_SECURITY_TLS, self->port);
      add_s_client (self, commands, DOCTOR_SECURITY_STARTTLS, self->port);
      text = g_strdup_printf (
        /* Translators: %u is the port number. */
        _("The security setting does not match what port %u speaks. Port 465 is used with "
          "SSL/TLS (implicit TLS: encrypted from the start) and port 587 with STARTTLS "
          "(plain at first, then encrypted). Change the security setting to match the port; "
          "the commands below show which mode the port accepts."),
        self->port);
      advise (self, _("Match the security setting to the port"), text,
              g_steal_pointer (&commands));
    }
}

static void
advise_protocol_error (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_session (self, commands);

  if (at_step (self, "greeting"))
    {
      text = g_strdup_printf (
        /* Translators: %u is the port number. */
        _("The program on port %u answered with something that is not the greeting of a "
          "mail server. The port probably belongs to another service: web (80, 443), or IMAP "
          "(143, 993) and POP3 (110, 995), which are for reading mail, not for sending it. Use "
          "the SMTP port from your provider’s instructions, usually 587 or 465."),
        self->port);
      advise (self, _("This port does not speak SMTP"), text, g_steal_pointer (&commands));
    }
  else
    {
      advise (self,
              _("The server sent a garbled reply"),
              _("The server’s reply did not follow the rules of SMTP, so it could not be "
                "understood. Either the server is faulty, or a program between you and the "
                "server (an antivirus mail scanner, a firewall or a proxy) changes the "
                "conversation. Try from another network or with mail scanning turned off, and "
                "send the transcript to the server’s administrator."),
              g_steal_pointer (&commands));
    }
}

static void
advise_line_too_long (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_session (self, commands);
  advise (self,
          _("The server sent an oversized reply"),
          _("The server sent a line or a reply far longer than SMTP allows, so the "
            "conversation was stopped to stay safe. A normal mail server does not do this: the "
            "port may belong to another service, or the server or a program in between is "
            "faulty. Check the port, and send the transcript to the server’s administrator."),
          g_steal_pointer (&commands));
}

static void
advise_connection_closed (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  if (at_step (self, "greeting") || at_step (self, "connect"))
    {
      add_session (self, commands);
      advise (self,
              _("The server hung up at once"),
              _("The server closed the connection right after it was opened, without a "
                "greeting. Servers do this when they refuse your internet address (a "
                "blocklist or a country filter) or have too many connections open, and "
                "firewalls do it when they block mail. Try again later, try the other "
                "submission port (587 or 465), and ask your provider if it goes on."),
              g_steal_pointer (&commands));
    }
  else if (at_step (self, "tls") || at_step (self, "starttls") || at_step (self, "certificate"))
    {
      add_s_client (self, commands, tls_security (self), self->port);
      advise (self,
              _("The server hung up during encryption"),
              _("The server closed the connection while encryption was being set up. It may "
                "not support the TLS versions this computer allows, the port may use another "
                "security mode, or a firewall cut the connection. Check the security setting "
                "for the port (465: SSL/TLS, 587: STARTTLS)."),
              g_steal_pointer (&commands));
    }
  else if (at_step (self, "auth"))
    {
      advise (self,
              _("The server hung up during login"),
              _("The server closed the connection during the login. Some servers do this "
                "after a wrong password or too many failed attempts, and then block the "
                "address for a while. Check the user name and password, wait a few minutes, "
                "and try again."),
              NULL);
    }
  else if (at_step (self, "send"))
    {
      advise (self,
              _("The server hung up while sending"),
              _("The server closed the connection while the test message was being sent. It "
                "may have refused the sender or the message, or a sending limit was reached. "
                "Check the sender address and try again later."),
              NULL);
    }
  else
    {
      advise (self,
              _("The server hung up"),
              _("The server closed the connection unexpectedly. This can be a passing fault, "
                "a limit on connections, or a firewall cutting the connection. Try again; if "
                "it keeps happening, send the transcript to the server’s administrator."),
              NULL);
    }
}

static void
advise_ehlo_rejected (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  g_ptr_array_add (commands, g_strdup ("hostname --fqdn"));

  if (at_step (self, "auth") || at_step (self, "tls") || at_step (self, "starttls"))
    {
      advise (self,
              _("The server refused the greeting after encryption"),
              _("Once encryption was set up, the server refused the EHLO command, which has "
                "to be sent again at that point. Either the server is faulty or it does not "
                "accept the name this computer introduced itself with. Try a full domain name "
                "as EHLO name (--helo on the command line), and send the transcript to the "
                "server’s administrator."),
              g_steal_pointer (&commands));
    }
  else
    {
      advise (self,
              _("The server refused this computer’s greeting"),
              _("The server did not accept the EHLO command, in which this computer "
                "introduces itself by name. Some servers insist on a full, real domain name "
                "there. Set the EHLO name to a full domain name (--helo on the command line), "
                "such as the domain of your website. If the server accepted the older HELO "
                "command instead, it is very old or limited and offers neither encryption nor "
                "login."),
              g_steal_pointer (&commands));
    }
}

static void
advise_starttls_not_offered (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_s_client (self, commands, DOCTOR_SECURITY_STARTTLS, self->port);
  if (self->port != 465)
    add_s_client (self, commands, DOCTOR_SECURITY_TLS, 465);

  advise (self,
          _("The server did not offer encryption"),
          _("The server did not list STARTTLS, so the connection could not be encrypted and "
            "nothing more was sent, in particular not your password. Mail providers offer "
            "STARTTLS, so usually something removed it on the way: an antivirus program or "
            "firewall that inspects mail, a hotel or company network, or an attacker who wants "
            "to read your password (a downgrade attack). Try from another network. If the "
            "server really has no encryption on this port, use port 465 with SSL/TLS. Never "
            "send a password over a connection without encryption."),
          g_steal_pointer (&commands));
}

static void
advise_starttls_rejected (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_s_client (self, commands, DOCTOR_SECURITY_STARTTLS, self->port);
  if (self->port != 465)
    add_s_client (self, commands, DOCTOR_SECURITY_TLS, 465);

  advise (self,
          _("The server refused to start encryption"),
          _("The server offers STARTTLS but refused the command. A reply starting with 454 "
            "means that encryption is not available for the moment, often because of a "
            "certificate or setup problem on the server. Try again later or use port 465 with "
            "SSL/TLS, and tell the server’s administrator. Do not switch to an unencrypted "
            "connection to get around it."),
          g_steal_pointer (&commands));
}

static void
advise_starttls_injection (Advisor *self)
{
  advise (self,
          _("Someone tampered with the connection"),
          _("Right after the server agreed to start encryption, more data arrived before "
            "encryption began. A real server never does this. It is the sign of an attack "
            "that tries to slip commands into the encrypted session (STARTTLS command "
            "injection), or of a faulty firewall or antivirus program in between. The "
            "connection was stopped and no password was sent. Do not send mail over this "
            "network until the cause is found, and report it to the server’s administrator."),
          NULL);
}

static void
advise_tls_handshake_failed (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_s_client (self, commands, tls_security (self), self->port);
  advise (self,
          _("Encryption could not be set up"),
          _("This computer and the server could not agree on how to encrypt the connection. "
            "The server may support only old TLS versions or ciphers that are switched off "
            "today for safety, the port may expect another security mode, or a program in "
            "between (antivirus, firewall, proxy) breaks the handshake. Check the security "
            "setting for the port (465: SSL/TLS, 587: STARTTLS); the command below shows where "
            "the handshake stops."),
          g_steal_pointer (&commands));
}

static void
advise_tls_protocol_outdated (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *base = s_client (self, tls_security (self), self->port, FALSE);

  commands_add (commands, "%s -tls1_2 </dev/null", base);
  advise (self,
          _("The server uses an outdated TLS version"),
          _("The connection was encrypted with a TLS version older than 1.2. Those versions "
            "have known weaknesses and many systems refuse them already, so sending may stop "
            "working after an update. Ask the provider or administrator to turn on TLS 1.2 and "
            "1.3 on the server."),
          g_steal_pointer (&commands));
}

static void
advise_certificate_untrusted (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_show_certs (self, commands);
  advise (self,
          _("The certificate is not trusted"),
          _("The server’s certificate was not issued by an authority this computer trusts: it "
            "is self-signed or comes from a private authority. If your organisation runs its "
            "own authority, get its certificate (a PEM file) from the administrators and give "
            "it as custom CA (--ca-file on the command line). If this is a large public "
            "provider, something on your network, such as an antivirus program that scans "
            "encrypted connections or a company proxy, is probably replacing the certificate: "
            "turn that scanning off for mail. Do not turn off certificate checks; your "
            "password could then go to whoever made the certificate."),
          g_steal_pointer (&commands));

  if (self->target->ca_file != NULL)
    {
      g_autofree char *ca_file = shell_word (self->target->ca_file);
      g_autofree char *text = NULL;

      commands = commands_new ();
      commands_add (commands, "openssl x509 -noout -text -in %s", ca_file);

      text = g_strdup_printf (
        /* Translators: %s is the name of a file. */
        _("The certificate does not lead to the custom CA in “%s” either. Check that the file "
          "holds the certificate of the authority that signed the server’s certificate (not "
          "the server’s certificate itself), in PEM format."),
        self->target->ca_file);
      advise (self, _("Check the custom CA file"), text, g_steal_pointer (&commands));
    }
}

static void
advise_certificate_expired (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_clock (self, commands);
  add_cert_field (self, commands, "-dates");
  advise (self,
          _("The server’s certificate has expired"),
          _("The server’s certificate is past its end date, so the connection cannot be "
            "trusted. First check that the date and time of this computer are right. If they "
            "are, only the server’s administrator can fix it, by renewing the certificate: "
            "tell them, and do not send your password in the meantime."),
          g_steal_pointer (&commands));
}

static void
advise_certificate_not_yet_valid (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_clock (self, commands);
  add_cert_field (self, commands, "-dates");
  advise (self,
          _("Check the clock of this computer"),
          _("By the clock of this computer, the server’s certificate is not valid yet. Usually "
            "the clock is wrong, for example after a flat battery or with a wrong time zone: "
            "set the right date and time, best automatically from the network. If the clock is "
            "right, the server has a certificate dated in the future and its administrator "
            "has to fix it."),
          g_steal_pointer (&commands));
}

static void
advise_certificate_hostname_mismatch (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  g_autofree char *text = NULL;

  add_cert_field (self, commands, "-subject -ext subjectAltName");

  text = g_strdup_printf (
    /* Translators: %s is the server name. */
    _("The certificate was issued for other names than “%s”. This happens when you use an "
      "alias, such as mail.your-domain.com pointing to a hosting provider, instead of the "
      "provider’s own server name. Use a name the certificate lists (the command below shows "
      "them) or the one in the provider’s instructions. If the name is right, the server is "
      "set up wrongly or the connection is being intercepted."),
    self->display_host);

  advise (self, _("The certificate is for another name"), text, g_steal_pointer (&commands));
}

static void
advise_certificate_revoked (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_show_certs (self, commands);
  advise (self,
          _("The certificate was revoked"),
          _("The authority that issued the server’s certificate has withdrawn it, usually "
            "because its key was stolen or it was issued by mistake. Do not connect while the "
            "server uses it: the server’s administrator has to install a new certificate."),
          g_steal_pointer (&commands));
}

static void
advise_certificate_insecure (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_cert_field (self, commands, "-text");
  advise (self,
          _("The certificate uses weak security"),
          _("The server’s certificate relies on an algorithm that is no longer safe, such as "
            "SHA-1 signatures or a short key. The server’s administrator has to replace it "
            "with a current certificate."),
          g_steal_pointer (&commands));
}

static void
advise_certificate_expires_soon (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();

  add_cert_field (self, commands, "-enddate");
  advise (self,
          _("The certificate expires soon"),
          _("The certificate is valid now but expires within two weeks. Tell the server’s "
            "administrator: if it is not renewed in time, mail programs will refuse to "
            "connect. Certificates that renew on their own (for example from Let’s Encrypt) "
            "are normally renewed well before this, so the renewal may be broken."),
          g_steal_pointer (&commands));
}

static void
advise_auth_not_offered (Advisor *self)
{
  advise (self,
          _("The server does not offer login here"),
          _("The server offered no way to log in on this connection. Most servers offer login "
            "only on the submission ports (587 with STARTTLS, 465 with SSL/TLS) and only once "
            "the connection is encrypted; port 25 is for servers passing mail to each other. "
            "Use port 587 or 465 as your provider describes. Some services take mail without "
            "a login, from known addresses only; for those, leave the user name empty."),
          NULL);
}

static void
advise_auth_mechanism_unsupported (Advisor *self)
{
  advise (self,
          _("No supported login method"),
          _("The server offers only login methods that SMTP Doctor does not use (the details "
            "list them); SMTP Doctor logs in with a user name and password (PLAIN or LOGIN). "
            "If the server offers only XOAUTH2 or OAUTHBEARER, it wants OAuth 2.0 sign-in, as "
            "Google and Microsoft do for some accounts: use an app password if the provider "
            "offers one, or a mail program or library that supports OAuth 2.0."),
          NULL);
}

static void
advise_auth_failed (Advisor *self)
{
  const char *user = self->target->user;

  advise (self,
          _("Check the user name and password"),
          _("The server did not accept the user name and password. Check the user name "
            "first: most providers want the full email address, not only the part before the "
            "@. Then type the password again, minding Caps Lock and the keyboard layout. Some "
            "providers refuse your normal password here: accounts with 2-step verification "
            "need an app password, and sending services use an API key as the password. At "
            "SendGrid the user name is literally “apikey”; Amazon SES needs its own SMTP "
            "credentials, not your AWS access keys."),
          NULL);

  if (user != NULL && strchr (user, '@') == NULL && !g_str_equal (user, "apikey"))
    {
      g_autofree char *text = NULL;

      text = g_strdup_printf (
        /* Translators: %s is the user name that was used to log in. */
        _("The user name “%s” is not an email address. Unless your provider says otherwise, "
          "log in with the full address, such as name@example.com."),
        user);
      advise (self, _("Try the full email address"), text, NULL);
    }

  if (host_in (self, "sendgrid.net") && g_strcmp0 (user, "apikey") != 0)
    {
      advise (self,
              _("At SendGrid, the user name is “apikey”"),
              _("SendGrid accepts only the literal user name “apikey”, with one of your API "
                "keys as the password."),
              NULL);
    }
  else if (host_in (self, "gmail.com") || host_in (self, "googlemail.com"))
    {
      advise (self,
              _("Gmail may need an app password"),
              _("With 2-Step Verification turned on, Google refuses the normal password of the "
                "account for mail programs. Create an app password at "
                "https://myaccount.google.com/apppasswords and use it instead."),
              NULL);
    }
}

static void
advise_auth_app_password_required (Advisor *self)
{
  advise (self,
          _("Use an app password"),
          _("The provider wants an app password for this account: with 2-Step Verification "
            "turned on, mail programs cannot log in with the normal password. Create an app "
            "password for mail (for a Google account at "
            "https://myaccount.google.com/apppasswords) and use it instead of your normal "
            "password; the user name stays your full email address. If the page says the "
            "setting is not available, turn on 2-Step Verification first."),
          NULL);
}

static gboolean
is_plain_address (const char *user)
{
  for (const char *p = user; *p; p++)
    {
      if (!g_ascii_isalnum (*p) && strchr ("@.-_+", *p) == NULL)
        return FALSE;
    }

  return *user != '\0';
}

static void
advise_auth_basic_disabled (Advisor *self)
{
  g_autoptr(GPtrArray) commands = commands_new ();
  const char *user = self->target->user;

  /* Exchange Online PowerShell, for the administrator. */
  if (user != NULL && strchr (user, '@') != NULL && is_plain_address (user))
    commands_add (commands, "Set-CASMailbox -Identity %s -SmtpClientAuthenticationDisabled $false",
                  user);

  advise (self,
          _("Password login is turned off at Microsoft 365"),
          _("Microsoft 365 refused the login because SMTP AUTH, logging in with a user name "
            "and password to send mail, is turned off: for this mailbox, for the whole "
            "organisation, or by the “security defaults”, which block it whatever the other "
            "settings say. An administrator can turn on “Authenticated SMTP” for the mailbox, "
            "as described at https://learn.microsoft.com/exchange/clients-and-mobile-in-"
            "exchange-online/authenticated-client-smtp-submission. The alternative is a mail "
            "program or library that signs in with OAuth 2.0, which Microsoft supports "
            "instead of passwords."),
          g_steal_pointer (&commands));
}

static void
advise_auth_requires_tls (Advisor *self)
{
  advise (self,
          _("Encryption is required before login"),
          _("The server accepts a login only over an encrypted connection. Set the security to "
            "STARTTLS (usually port 587) or SSL/TLS (usually port 465)."),
          NULL);
}

static void
advise_auth_temporary_failure (Advisor *self)
{
  advise (self,
          _("Login is not possible for the moment"),
          _("The server could not check the login right now (a temporary error, code 4xx). "
            "Its login service may be down, or the account may be blocked for a while after "
            "too many failed attempts. Wait a few minutes and try again. If the provider has "
            "a webmail page, logging in there may show a security notice to confirm."),
          NULL);
}

static void
advise_auth_skipped_untrusted (Advisor *self)
{
  advise (self,
          _("Login was not tried"),
          _("The server’s certificate could not be trusted, so your password was not sent: it "
            "could have gone to an impostor. Fix the certificate problem first; the login "
            "will be tested after that."),
          NULL);
}

static void
advise_auth_plaintext_refused (Advisor *self)
{
  advise (self,
          _("Turn on encryption before logging in"),
          _("Without encryption, the password would cross the network in readable form, so "
            "the login was not tried. Set the security to STARTTLS (port 587) or SSL/TLS (port "
            "465). Only on a network you fully trust, such as a test server on this computer, "
            "allow a password without encryption (--allow-plaintext-auth on the command "
            "line)."),
          NULL);
}

static void
advise_family_broken (Advisor  *self,
                      gboolean  v6)
{
  g_autofree char *text = NULL;
  GPtrArray *commands = commands_new ();

  g_ptr_array_add (commands, g_strdup_printf (v6 ? "getent ahostsv6 %s" : "getent ahostsv4 %s",
                                              self->host));

  text = g_strdup_printf (
    /* Translators: %s is a server name */
    v6 ? _("%s has IPv6 addresses, but they do not answer from here, while IPv4 works. Programs "
           "that try IPv6 first can hang until they give up, and some (Node.js before version "
           "20, for example, with “localhost”) try only the first address and fail. Fix IPv6 on "
           "this network or server, or have the program use IPv4: give it the IPv4 address, or "
           "prefer IPv4 for the whole computer in /etc/gai.conf.")
       : _("%s has IPv4 addresses, but they do not answer from here, while IPv6 works. Programs "
           "that try IPv4 first can hang until they give up. Fix IPv4 on this network or "
           "server, or have the program use IPv6."),
    self->display_host);

  advise (self, v6 ? _("IPv6 is broken on the way to this server")
                   : _("IPv4 is broken on the way to this server"),
          text, commands);
}

static void
advise_certificate_intercepted (Advisor *self)
{
  advise (self,
          _("Find out who is reading the connection"),
          _("The certificate is trusted by this computer, but it does not come from the "
            "authority this provider uses. Antivirus programs with “HTTPS/mail scanning” and "
            "company proxies put their own certificate authority on the computer to read "
            "encrypted connections, passwords included. Turn off mail scanning in the antivirus, "
            "or ask your IT department whether mail is inspected; compare the fingerprint below "
            "with the one you see from another network."),
          NULL);
}

static void
advise_ipv6_broken (Advisor *self)
{
  advise_family_broken (self, TRUE);
}

static void
advise_ipv4_broken (Advisor *self)
{
  advise_family_broken (self, FALSE);
}

static void
advise_auth_unencrypted (Advisor *self)
{
  advise (self,
          _("Encrypt the connection"),
          _("The login worked, but the user name and password crossed the network in readable "
            "form, where anyone on the way could copy them. Set the security to STARTTLS (port "
            "587) or SSL/TLS (port 465) if the server offers it, and change the password if "
            "this was not a network you fully trust."),
          NULL);
}

static void
advise_sender_rejected (Advisor *self)
{
  g_autofree char *text = NULL;

  text = g_strdup_printf (
    /* Translators: %s is the sender's email address. */
    _("The server did not accept “%s” as sender. Most providers let you send only from your "
      "own address, or from aliases and domains you have confirmed with them; sending "
      "services such as SendGrid, Mailgun or Amazon SES need a verified sender or domain. "
      "Send from the address of the account you log in with, or verify the address or "
      "domain with the provider."),
    self->target->mail_from != NULL ? self->target->mail_from : "");

  advise (self, _("The sender address was refused"), text, NULL);
  advise_login_first (self);
  advise_temporary (self);
}

static void
advise_recipient_rejected (Advisor *self)
{
  g_autofree char *text = NULL;

  text = g_strdup_printf (
    /* Translators: %s is the recipient's email address. */
    _("The server did not accept “%s” as recipient. Check the address for typing errors. "
      "The mailbox may not exist, may be full or may be closed; the server’s reply usually "
      "says which."),
    self->target->rcpt_to != NULL ? self->target->rcpt_to : "");

  advise (self, _("The recipient address was refused"), text, NULL);
  advise_temporary (self);
}

static void
advise_relay_denied (Advisor *self)
{
  g_autofree char *text = NULL;

  text = g_strdup_printf (
    /* Translators: %s is the recipient's email address. */
    _("The server refused to pass the mail on to “%s”: it does not relay for you. Servers "
      "accept mail for other domains only from senders who have logged in. Log in with your "
      "user name and password first (on port 587 or 465). If you did log in, this server "
      "does not relay for this sender address: send from the address of your account, or "
      "ask the provider to allow it."),
    self->target->rcpt_to != NULL ? self->target->rcpt_to : "");

  advise (self, _("The server will not pass this mail on"), text, NULL);
  advise_login_first (self);
}

static void
advise_message_rejected (Advisor *self)
{
  advise (self,
          _("The message was refused"),
          _("The server accepted the sender and the recipient but refused the message itself. "
            "Common causes are a spam or virus filter, a size limit, a daily sending limit, or "
            "a sender domain whose SPF, DKIM or DMARC records do not allow this server to send "
            "for it. The server’s reply usually says which."),
          NULL);
  advise_temporary (self);
}

static void
advise_reply_timeout (Advisor *self)
{
  guint seconds = MAX (1, doctor_target_get_timeout_ms (self->target) / 1000);
  guint longer = MAX (60, seconds * 2);
  g_autofree char *text = NULL;

  if (at_step (self, "tls") || at_step (self, "certificate"))
    {
      advise (self,
              _("The encryption handshake stalled"),
              _("The TLS handshake started but did not finish in time. A firewall or "
                "antivirus program in between may be holding the connection, or the server is "
                "overloaded. Try again, or from another network."),
              NULL);
    }
  else if (at_step (self, "auth"))
    {
      advise (self,
              _("The server is slow to answer the login"),
              _("The server stopped answering after the login was sent. Some servers slow down "
                "on purpose after failed logins. Wait a few minutes and try again."),
              NULL);
    }
  else if (at_step (self, "send"))
    {
      advise (self,
              _("The server stopped answering while sending"),
              _("The server stopped answering during the test message, probably while it was "
                "checking the message for spam or viruses. Try again with more time."),
              NULL);
    }
  else
    {
      advise (self,
              _("The server stopped answering"),
              _("The server stopped answering in the middle of the conversation. It may be "
                "overloaded, or a firewall or antivirus program in between may be holding the "
                "data back. Try again later, or from another network."),
              NULL);
    }

  text = g_strdup_printf (
    /* Translators: the first %u is the time limit in seconds, the second a longer one. */
    g_dngettext (GETTEXT_PACKAGE,
                 "No reply came within %u second. Try a longer time limit, for example "
                 "--timeout=%u on the command line.",
                 "No reply came within %u seconds. Try a longer time limit, for example "
                 "--timeout=%u on the command line.",
                 seconds),
    seconds, longer);
  advise (self, _("Allow more time"), text, NULL);
}

static void
advise_bare_lf (Advisor *self)
{
  advise (self,
          _("The server ends lines incorrectly"),
          _("The server ends some lines with a bare line feed instead of the carriage return "
            "and line feed that SMTP requires. This is a bug in the server and mostly "
            "harmless: most mail programs cope with it. Strict ones may not, so tell the "
            "server’s administrator if you run into trouble."),
          NULL);
}

/* Quotes a refusal, whose text often names the exact cause or links to a help page. */
static void
advise_reply (Advisor *self)
{
  g_autofree char *joined = NULL;
  g_autofree char *text = NULL;
  GString *quote;

  if (self->reply == NULL || doctor_reply_is_positive (self->reply))
    return;

  joined = doctor_reply_join_text (self->reply);

  quote = g_string_new (NULL);
  g_string_append_printf (quote, "%u", self->reply->code);
  if (self->reply->enhanced != NULL && !g_str_has_prefix (joined, self->reply->enhanced))
    g_string_append_printf (quote, " %s", self->reply->enhanced);
  if (*joined != '\0')
    g_string_append_printf (quote, " %s", joined);

  if (g_utf8_strlen (quote->str, -1) > MAX_QUOTED_CHARS)
    {
      g_autofree char *cut = g_utf8_substring (quote->str, 0, MAX_QUOTED_CHARS - 1);

      g_string_assign (quote, cut);
      g_string_append (quote, "…");
    }

  text = g_strdup_printf (
    /* Translators: %s is the server's reply, such as “535 5.7.8 Authentication failed”. */
    _("The server answered “%s”. Servers often name the exact problem in this text, "
      "sometimes with a link to a help page."),
    quote->str);
  g_string_free (quote, TRUE);

  advise (self, _("What the server said"), text, NULL);
}

/* When the server belongs to a known provider, its own instructions close the advice: they
 * say what that provider wants (an app password, an API key as the password, a setting to turn
 * on) in a way no general advice can. Only for failures the provider's settings can cause. */
static void
advise_provider (Advisor    *self,
                 const char *reason)
{
  static const char *prefixes[] = {
    "auth-", "connection-", "security-mismatch", "certificate-", "starttls-", "sender-",
    "relay-", "tls-", "greeting-",
  };
  const DoctorProvider *provider;
  g_autoptr(GString) text = NULL;
  g_autofree char *title = NULL;
  gboolean applies = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (prefixes) && !applies; i++)
    applies = g_str_has_prefix (reason, prefixes[i]);
  if (!applies || self->target->host == NULL)
    return;

  provider = doctor_providers_match_host (self->target->host);
  if (provider == NULL || provider->help == NULL || *provider->help == '\0')
    return;

  text = g_string_new (provider->help);
  for (guint i = 0; i < provider->links->len; i++)
    {
      const DoctorProviderLink *link = g_ptr_array_index (provider->links, i);

      g_string_append_printf (text, "\n%s: %s", link->title, link->url);
    }

  /* Translators: %s is a provider's name, such as "Gmail / Google Workspace" */
  title = g_strdup_printf (_("What %s asks for"), provider->name);
  advise (self, title, text->str, NULL);
}

static gboolean
is_loopback_host (const char *host)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);

  if (address != NULL)
    return g_inet_address_get_is_loopback (address);

  return g_ascii_strcasecmp (host, "localhost") == 0 || g_str_has_suffix (host, ".localhost");
}

/* Reasons ----------------------------------------------------------------------------------- */

static const ReasonInfo reasons[] = {
  { "invalid-input",                 advise_invalid_input,                 FALSE },
  { "dns-not-found",                 advise_dns_not_found,                 FALSE },
  { "dns-temporary-failure",         advise_dns_temporary_failure,         FALSE },
  { "connection-refused",            advise_connection_refused,            FALSE },
  { "connection-timeout",            advise_connection_timeout,            FALSE },
  { "host-unreachable",              advise_host_unreachable,              FALSE },
  { "network-unreachable",           advise_network_unreachable,           FALSE },
  { "connection-filtered",           advise_connection_filtered,           FALSE },
  { "greeting-timeout",              advise_greeting_timeout,              FALSE },
  { "greeting-rejected",             advise_greeting_rejected,             TRUE },
  { "server-busy",                   advise_server_busy,                   TRUE },
  { "security-mismatch",             advise_security_mismatch,             FALSE },
  { "protocol-error",                advise_protocol_error,                FALSE },
  { "line-too-long",                 advise_line_too_long,                 FALSE },
  { "connection-closed",             advise_connection_closed,             FALSE },
  { "ehlo-rejected",                 advise_ehlo_rejected,                 TRUE },
  { "starttls-not-offered",          advise_starttls_not_offered,          FALSE },
  { "starttls-rejected",             advise_starttls_rejected,             TRUE },
  { "starttls-injection",            advise_starttls_injection,            FALSE },
  { "tls-handshake-failed",          advise_tls_handshake_failed,          FALSE },
  { "tls-protocol-outdated",         advise_tls_protocol_outdated,         FALSE },
  { "certificate-untrusted",         advise_certificate_untrusted,         FALSE },
  { "certificate-expired",           advise_certificate_expired,           FALSE },
  { "certificate-not-yet-valid",     advise_certificate_not_yet_valid,     FALSE },
  { "certificate-hostname-mismatch", advise_certificate_hostname_mismatch, FALSE },
  { "certificate-revoked",           advise_certificate_revoked,           FALSE },
  { "certificate-insecure",          advise_certificate_insecure,          FALSE },
  { "certificate-expires-soon",      advise_certificate_expires_soon,      FALSE },
  { "auth-not-offered",              advise_auth_not_offered,              FALSE },
  { "auth-mechanism-unsupported",    advise_auth_mechanism_unsupported,    TRUE },
  { "auth-failed",                   advise_auth_failed,                   TRUE },
  { "auth-app-password-required",    advise_auth_app_password_required,    TRUE },
  { "auth-basic-disabled",           advise_auth_basic_disabled,           TRUE },
  { "auth-requires-tls",             advise_auth_requires_tls,             TRUE },
  { "auth-temporary-failure",        advise_auth_temporary_failure,        TRUE },
  { "auth-skipped-untrusted",        advise_auth_skipped_untrusted,        FALSE },
  { "auth-plaintext-refused",        advise_auth_plaintext_refused,        FALSE },
  { "auth-unencrypted",              advise_auth_unencrypted,              FALSE },
  { "ipv6-broken",                   advise_ipv6_broken,                   FALSE },
  { "certificate-intercepted",       advise_certificate_intercepted,       FALSE },
  { "ipv4-broken",                   advise_ipv4_broken,                   FALSE },
  { "sender-rejected",               advise_sender_rejected,               TRUE },
  { "recipient-rejected",            advise_recipient_rejected,            TRUE },
  { "relay-denied",                  advise_relay_denied,                  TRUE },
  { "message-rejected",              advise_message_rejected,              TRUE },
  { "not-reached",                   NULL,                                 FALSE },
  { "cancelled",                     NULL,                                 FALSE },
  { "not-applicable",                NULL,                                 FALSE },
  { "not-requested",                 NULL,                                 FALSE },
  { "reply-timeout",                 advise_reply_timeout,                 FALSE },
  { "bare-lf",                       advise_bare_lf,                       FALSE },
};

static const ReasonInfo *
find_reason (const char *reason)
{
  if (reason == NULL)
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS (reasons); i++)
    {
      if (g_str_equal (reasons[i].reason, reason))
        return &reasons[i];
    }

  return NULL;
}

const char *const *
doctor_reason_list (void)
{
  static const char *list[G_N_ELEMENTS (reasons) + 1];
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      for (guint i = 0; i < G_N_ELEMENTS (reasons); i++)
        list[i] = reasons[i].reason;
      list[G_N_ELEMENTS (reasons)] = NULL;

      g_once_init_leave (&initialized, 1);
    }

  return list;
}

gboolean
doctor_reason_is_known (const char *reason)
{
  return find_reason (reason) != NULL;
}

void
doctor_advice_add (DoctorCheck        *check,
                   const char         *reason,
                   const DoctorTarget *target,
                   const DoctorReply  *reply)
{
  const ReasonInfo *info;
  g_autofree char *ascii = NULL;
  Advisor advisor = { 0 };

  g_return_if_fail (DOCTOR_IS_CHECK (check));
  g_return_if_fail (target != NULL);

  if (reason == NULL)
    return;

  info = find_reason (reason);
  if (info == NULL)
    {
      g_debug ("No advice for the unknown reason “%s”", reason);
      return;
    }

  if (info->func == NULL)
    return;

  advisor.check = check;
  advisor.id = doctor_check_get_id (check);
  advisor.target = target;
  advisor.reply = reply;
  advisor.display_host = target->host != NULL ? target->host : "";
  advisor.port = doctor_target_get_port (target);
  advisor.is_ip = g_hostname_is_ip_address (advisor.display_host);
  advisor.is_ipv6 = advisor.is_ip && strchr (advisor.display_host, ':') != NULL;

  /* Commands take the name as DNS knows it. */
  if (!advisor.is_ip && g_hostname_is_non_ascii (advisor.display_host))
    ascii = g_hostname_to_ascii (advisor.display_host);
  advisor.host = shell_word (ascii != NULL ? ascii : advisor.display_host);

  info->func (&advisor);

  if (info->quote_reply)
    advise_reply (&advisor);

  advise_provider (&advisor, reason);

  /* The network and this machine's firewall, where the reason is about getting through; a
   * refusal from this very computer is a server that does not listen, not a firewall. */
  if (!(g_str_equal (reason, "connection-refused") && is_loopback_host (advisor.display_host)))
    doctor_firewall_add_advice (check, target, 0, reason);

  g_free (advisor.host);
}
