/* doctor-target.c: what to diagnose, and the checks on user input made before anything is sent.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "doctor-error.h"
#include "doctor-target.h"

G_DEFINE_BOXED_TYPE (DoctorTarget, doctor_target, doctor_target_copy, doctor_target_free)

/* Overwrites a secret before its memory goes back to the allocator. */
void
doctor_secret_free (char *secret)
{
  if (secret == NULL)
    return;

  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

DoctorTarget *
doctor_target_new (const char     *host,
                   guint16         port,
                   DoctorSecurity  security)
{
  DoctorTarget *target = g_new0 (DoctorTarget, 1);

  target->host = g_strdup (host);
  target->port = port;
  target->security = security;

  return target;
}

DoctorTarget *
doctor_target_copy (const DoctorTarget *target)
{
  DoctorTarget *copy;

  g_return_val_if_fail (target != NULL, NULL);

  copy = g_new0 (DoctorTarget, 1);
  copy->host = g_strdup (target->host);
  copy->port = target->port;
  copy->security = target->security;
  copy->user = g_strdup (target->user);
  copy->secret = g_strdup (target->secret);
  copy->allow_plaintext_auth = target->allow_plaintext_auth;
  copy->ca_file = g_strdup (target->ca_file);
  copy->timeout_ms = target->timeout_ms;
  copy->helo_name = g_strdup (target->helo_name);
  copy->mail_from = g_strdup (target->mail_from);
  copy->rcpt_to = g_strdup (target->rcpt_to);

  return copy;
}

void
doctor_target_free (DoctorTarget *target)
{
  if (target == NULL)
    return;

  g_free (target->host);
  g_free (target->user);
  doctor_secret_free (target->secret);
  g_free (target->ca_file);
  g_free (target->helo_name);
  g_free (target->mail_from);
  g_free (target->rcpt_to);
  g_free (target);
}

void
doctor_target_set_secret (DoctorTarget *target,
                          const char   *secret)
{
  char *old;

  g_return_if_fail (target != NULL);

  /* Copy before wiping: @secret may be the current value itself. */
  old = target->secret;
  target->secret = g_strdup (secret);
  doctor_secret_free (old);
}

guint16
doctor_security_default_port (DoctorSecurity security)
{
  switch (security)
    {
    case DOCTOR_SECURITY_TLS:
      return 465;
    case DOCTOR_SECURITY_NONE:
      return 25;
    case DOCTOR_SECURITY_STARTTLS:
    default:
      return 587;
    }
}

guint16
doctor_target_get_port (const DoctorTarget *target)
{
  return target->port != 0 ? target->port : doctor_security_default_port (target->security);
}

guint
doctor_target_get_timeout_ms (const DoctorTarget *target)
{
  return target->timeout_ms != 0 ? target->timeout_ms : DOCTOR_DEFAULT_TIMEOUT_SECONDS * 1000;
}

gboolean
doctor_target_wants_message (const DoctorTarget *target)
{
  return target->mail_from != NULL && target->rcpt_to != NULL;
}

const char *
doctor_security_to_string (DoctorSecurity security)
{
  switch (security)
    {
    case DOCTOR_SECURITY_TLS:
      return "tls";
    case DOCTOR_SECURITY_NONE:
      return "none";
    case DOCTOR_SECURITY_STARTTLS:
    default:
      return "starttls";
    }
}

gboolean
doctor_security_from_string (const char     *string,
                             DoctorSecurity *security)
{
  if (g_ascii_strcasecmp (string, "starttls") == 0)
    *security = DOCTOR_SECURITY_STARTTLS;
  else if (g_ascii_strcasecmp (string, "tls") == 0 || g_ascii_strcasecmp (string, "ssl") == 0)
    *security = DOCTOR_SECURITY_TLS;
  else if (g_ascii_strcasecmp (string, "none") == 0 || g_ascii_strcasecmp (string, "plain") == 0)
    *security = DOCTOR_SECURITY_NONE;
  else
    return FALSE;

  return TRUE;
}

const char *
doctor_security_get_label (DoctorSecurity security)
{
  switch (security)
    {
    case DOCTOR_SECURITY_TLS:
      return _("SSL/TLS");
    case DOCTOR_SECURITY_NONE:
      return _("no encryption");
    case DOCTOR_SECURITY_STARTTLS:
    default:
      return _("STARTTLS");
    }
}

/* Splits "host", "host:port", "[v6]" and "[v6]:port". A bare IPv6 literal (two or more colons,
 * no brackets) is taken whole as the host. */
gboolean
doctor_parse_host_port (const char  *input,
                        char       **host,
                        guint16     *port,
                        GError     **error)
{
  g_autofree char *h = NULL;
  const char *port_str = NULL;
  const char *colon;

  *host = NULL;
  *port = 0;

  if (input == NULL || *input == '\0')
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                           _("No server was given"));
      return FALSE;
    }

  if (input[0] == '[')
    {
      const char *end = strchr (input, ']');

      if (end == NULL || end == input + 1 || (end[1] != '\0' && end[1] != ':'))
        {
          g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                       _("“%s” is not a valid server address"), input);
          return FALSE;
        }
      h = g_strndup (input + 1, end - input - 1);
      if (end[1] == ':')
        port_str = end + 2;
    }
  else if ((colon = strchr (input, ':')) != NULL && strchr (colon + 1, ':') == NULL)
    {
      h = g_strndup (input, colon - input);
      port_str = colon + 1;
    }
  else
    {
      h = g_strdup (input);
    }

  /* ":25" names a port but no server. */
  if (*h == '\0')
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” is not a valid server address"), input);
      return FALSE;
    }

  if (port_str != NULL)
    {
      guint64 value;

      if (!g_ascii_string_to_unsigned (port_str, 10, 1, 65535, &value, NULL))
        {
          g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                       _("“%s” is not a port number from 1 to 65535"), port_str);
          return FALSE;
        }
      *port = (guint16) value;
    }

  *host = g_steal_pointer (&h);
  return TRUE;
}

/* Reads what a user types or pastes as the server: "host", "host:port", "[v6]:port", or a URI
 * smtp://[user@]host[:port] (security from the port), submission:// (STARTTLS, 587) or
 * smtps:// (SSL/TLS, 465). A password in the URI is refused: it would end up in shell history
 * and process lists. */
gboolean
doctor_parse_target (const char      *input,
                     char           **host,
                     guint16         *port,
                     DoctorSecurity  *security,
                     gboolean        *security_given,
                     char           **user,
                     GError         **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *scheme;
  const char *path;
  int uri_port;

  *host = NULL;
  *port = 0;
  *security = DOCTOR_SECURITY_STARTTLS;
  *security_given = FALSE;
  *user = NULL;

  if (input == NULL || strstr (input, "://") == NULL)
    return doctor_parse_host_port (input, host, port, error);

  uri = g_uri_parse (input, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_PATH, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” is not a valid address: %s"), input, local_error->message);
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "smtps") == 0)
    {
      *security = DOCTOR_SECURITY_TLS;
      *security_given = TRUE;
    }
  else if (g_ascii_strcasecmp (scheme, "submission") == 0)
    {
      *security = DOCTOR_SECURITY_STARTTLS;
      *security_given = TRUE;
    }
  else if (g_ascii_strcasecmp (scheme, "smtp") != 0)
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s:” is not a mail address scheme; use smtp://, smtps:// or "
                     "submission://"), scheme);
      return FALSE;
    }

  if (g_uri_get_password (uri) != NULL)
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                           _("The address contains a password; leave it out and give the "
                             "password separately"));
      return FALSE;
    }

  path = g_uri_get_path (uri);
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (path != NULL && *path != '\0' && g_strcmp0 (path, "/") != 0) ||
      g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” is not a valid server address"), input);
      return FALSE;
    }

  uri_port = g_uri_get_port (uri);
  if (uri_port == 0 || uri_port > 65535)
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” does not have a port number from 1 to 65535"), input);
      return FALSE;
    }

  *host = g_strdup (g_uri_get_host (uri));
  *port = uri_port > 0 ? (guint16) uri_port : 0;
  if (*port == 0 && *security_given)
    *port = doctor_security_default_port (*security);
  else if (*port == 0)
    *port = 25;
  if (!*security_given)
    *security = *port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS;
  if (g_uri_get_user (uri) != NULL && *g_uri_get_user (uri) != '\0')
    *user = g_strdup (g_uri_get_user (uri));

  return TRUE;
}

static gboolean
check_wire_field (const char  *value,
                  const char  *what,
                  GError     **error)
{
  if (value == NULL)
    return TRUE;

  for (const char *p = value; *p; p++)
    {
      if (*p == '\r' || *p == '\n')
        {
          g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                       _("The %s contains a line break, which would let it inject SMTP "
                         "commands"), what);
          return FALSE;
        }
      if ((guchar) *p < 0x20 || *p == 0x7f)
        {
          g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                       _("The %s contains a control character"), what);
          return FALSE;
        }
    }

  if (!g_utf8_validate (value, -1, NULL))
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("The %s is not valid UTF-8 text"), what);
      return FALSE;
    }

  return TRUE;
}

static gboolean
is_valid_host (const char *host)
{
  g_autofree char *ascii = NULL;

  if (g_hostname_is_ip_address (host))
    return TRUE;

  /* Internationalised names are checked in their ASCII form. */
  ascii = g_hostname_to_ascii (host);
  if (ascii == NULL || *ascii == '\0' || strlen (ascii) > 253)
    return FALSE;

  for (const char *p = ascii; *p; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
        return FALSE;
    }

  return ascii[0] != '.' && ascii[0] != '-';
}

static gboolean
is_valid_mailbox (const char *address)
{
  const char *at = strrchr (address, '@');

  if (at == NULL || at == address || at[1] == '\0')
    return FALSE;

  for (const char *p = address; *p; p++)
    {
      if (*p == '<' || *p == '>' || *p == ' ' || *p == '\t')
        return FALSE;
    }

  return TRUE;
}

/* Everything that goes on the wire is checked here, before a connection is made. */
gboolean
doctor_target_validate (const DoctorTarget  *target,
                        GError             **error)
{
  g_return_val_if_fail (target != NULL, FALSE);

  if (target->host == NULL || *target->host == '\0')
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                           _("No server was given"));
      return FALSE;
    }

  if (!check_wire_field (target->host, _("server name"), error))
    return FALSE;

  if (!is_valid_host (target->host))
    {
      g_autofree char *safe = g_strescape (target->host, NULL);

      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” is not a valid host name or address"), safe);
      return FALSE;
    }

  if (!check_wire_field (target->helo_name, _("EHLO name"), error) ||
      !check_wire_field (target->user, _("user name"), error) ||
      !check_wire_field (target->mail_from, _("sender address"), error) ||
      !check_wire_field (target->rcpt_to, _("recipient address"), error))
    return FALSE;

  if (target->helo_name != NULL && (*target->helo_name == '\0' || strchr (target->helo_name, ' ')))
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                           _("The EHLO name must be a single word, such as a host name"));
      return FALSE;
    }

  if (target->user != NULL && (*target->user == '\0' || strlen (target->user) > 255))
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                           _("The user name must be 1 to 255 bytes long"));
      return FALSE;
    }

  if (target->secret != NULL)
    {
      /* SASL PLAIN separates its fields with NUL, and RFC 4616 asks servers to accept 255
       * octets; a password line break would end the command. */
      if (strlen (target->secret) > 1024)
        {
          g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                               _("The password is longer than 1024 bytes"));
          return FALSE;
        }
      if (!g_utf8_validate (target->secret, -1, NULL))
        {
          g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                               _("The password is not valid UTF-8 text"));
          return FALSE;
        }
    }

  if ((target->mail_from == NULL) != (target->rcpt_to == NULL))
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                           _("A test message needs both a sender and a recipient"));
      return FALSE;
    }

  if (target->mail_from != NULL && !is_valid_mailbox (target->mail_from))
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” is not a valid sender address"), target->mail_from);
      return FALSE;
    }

  if (target->rcpt_to != NULL && !is_valid_mailbox (target->rcpt_to))
    {
      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("“%s” is not a valid recipient address"), target->rcpt_to);
      return FALSE;
    }

  if (target->ca_file != NULL && !g_file_test (target->ca_file, G_FILE_TEST_IS_REGULAR))
    {
      /* A path is in the file name encoding; the message must be UTF-8. */
      g_autofree char *display = g_filename_display_name (target->ca_file);

      g_set_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT,
                   _("The CA file “%s” does not exist or is not a regular file"), display);
      return FALSE;
    }

  return TRUE;
}
