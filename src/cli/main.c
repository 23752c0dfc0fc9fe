/* main.c: smtp-doctor-cli, the diagnosis for terminals, scripts and monitoring.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The options and exit statuses are a contract (DESIGN.md): 0 when every check passed or was
 * skipped, 1 for a warning, 2 for a failure, 3 for a usage error. A password is never taken
 * from the argument list, where every user of the machine could read it: it comes from
 * standard input, an environment variable, a .env file, the keyring (for a saved profile) or a
 * prompt on the terminal.
 *
 * Settings come in layers: a saved profile (--profile) or a .env file (--env-file) first, then
 * whatever the command line says, which wins.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "doctor-cli-output.h"
#include "doctor-diagnosis.h"
#include "doctor-discovery.h"
#include "doctor-env.h"
#include "doctor-error.h"
#include "doctor-keyring.h"
#include "doctor-profiles.h"
#include "doctor-report.h"

#define EXIT_WARNING 1
#define EXIT_FAILURE_FOUND 2
#define EXIT_USAGE 3
#define MAX_PASSWORD_LENGTH 1024

typedef struct
{
  char     *port_text;
  char     *security_text;
  char     *user;
  char     *password_env;
  char     *ca_file;
  char     *timeout_text;
  char     *helo;
  char     *mail_from;
  char     *rcpt_to;
  char     *profile;
  char     *save_profile;
  char     *delete_profile;
  char     *env_file;
  char     *discover;
  GStrv     rest;
  gboolean  password_stdin;
  gboolean  allow_plaintext;
  gboolean  scan_ports;
  gboolean  json;
  gboolean  version;
  gboolean  verbose;
  gboolean  list_profiles;
} Options;

static void
options_clear (Options *options)
{
  g_free (options->port_text);
  g_free (options->security_text);
  g_free (options->user);
  g_free (options->password_env);
  g_free (options->ca_file);
  g_free (options->timeout_text);
  g_free (options->helo);
  g_free (options->mail_from);
  g_free (options->rcpt_to);
  g_free (options->profile);
  g_free (options->save_profile);
  g_free (options->delete_profile);
  g_free (options->env_file);
  g_free (options->discover);
  g_strfreev (options->rest);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

typedef struct
{
  GMainLoop    *loop;
  gboolean      done;
  GError       *error;
} RunState;

static const char *prgname;

static int
usage_error (const char *message)
{
  g_printerr ("%s: %s\n", prgname, message);
  g_printerr (_("Try “%s --help” for more information.\n"), prgname);
  return EXIT_USAGE;
}

static void
note (const char *message)
{
  g_printerr ("%s: %s\n", prgname, message);
}

/* Reads one line from @stream into a buffer that is wiped after use; NULL when too long. */
static char *
read_secret_line (FILE *stream)
{
  char buffer[MAX_PASSWORD_LENGTH + 2];
  char *result;
  gsize length;

  if (fgets (buffer, sizeof buffer, stream) == NULL)
    {
      explicit_bzero (buffer, sizeof buffer);
      return g_strdup ("");
    }

  length = strcspn (buffer, "\r\n");
  if (length > MAX_PASSWORD_LENGTH)
    {
      explicit_bzero (buffer, sizeof buffer);
      return NULL;
    }

  buffer[length] = '\0';
  result = g_strdup (buffer);
  explicit_bzero (buffer, sizeof buffer);

  return result;
}

/* Asks on the controlling terminal with echo off. */
static char *
prompt_secret (const char *user)
{
  struct termios old, quiet;
  FILE *tty = fopen ("/dev/tty", "r+");
  char *secret;

  if (tty == NULL)
    return NULL;

  fprintf (tty, _("Password for %s: "), user);
  fflush (tty);

  if (tcgetattr (fileno (tty), &old) == 0)
    {
      quiet = old;
      quiet.c_lflag &= ~ECHO;
      tcsetattr (fileno (tty), TCSAFLUSH, &quiet);
      secret = read_secret_line (tty);
      tcsetattr (fileno (tty), TCSAFLUSH, &old);
    }
  else
    {
      secret = read_secret_line (tty);
    }

  fputc ('\n', tty);
  fclose (tty);

  return secret;
}

static void
on_run_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  RunState *state = user_data;

  doctor_diagnosis_run_finish (DOCTOR_DIAGNOSIS (object), result, &state->error);
  state->done = TRUE;
  g_main_loop_quit (state->loop);
}

static gboolean
on_interrupt (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_timeout (const char *text,
               guint      *timeout_ms)
{
  char *end = NULL;
  double value;

  errno = 0;
  value = g_ascii_strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value > 0) || value > 3600)
    return FALSE;

  *timeout_ms = (guint) (value * 1000 + 0.5);
  return *timeout_ms > 0;
}

static void
replace_string (char       **field,
                const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

/* Profiles ----------------------------------------------------------------------------------- */

static DoctorProfileStore *
open_store (int *status)
{
  g_autoptr(DoctorProfileStore) store = doctor_profile_store_new (NULL);
  g_autoptr(GError) error = NULL;

  if (!doctor_profile_store_load (store, &error))
    {
      /* A damaged file has been kept aside; say so, and carry on with what could be read
       * only where nothing is written. */
      note (error->message);
      *status = EXIT_FAILURE_FOUND;
      return NULL;
    }

  return g_steal_pointer (&store);
}

static int
list_profiles (const Options *options)
{
  g_autoptr(DoctorProfileStore) store = NULL;
  GPtrArray *profiles;
  int status = EXIT_SUCCESS;

  store = open_store (&status);
  if (store == NULL)
    return status;

  profiles = doctor_profile_store_get_profiles (store);

  if (options->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_array (builder);
      for (guint i = 0; i < profiles->len; i++)
        {
          const DoctorProfile *profile = g_ptr_array_index (profiles, i);

          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, profile->name);
          json_builder_set_member_name (builder, "uuid");
          json_builder_add_string_value (builder, profile->uuid);
          json_builder_set_member_name (builder, "host");
          json_builder_add_string_value (builder, profile->host ? profile->host : "");
          json_builder_set_member_name (builder, "port");
          json_builder_add_int_value (builder, profile->port != 0 ? profile->port
                                      : doctor_security_default_port (profile->security));
          json_builder_set_member_name (builder, "security");
          json_builder_add_string_value (builder, doctor_security_to_string (profile->security));
          json_builder_set_member_name (builder, "user");
          if (profile->user != NULL)
            json_builder_add_string_value (builder, profile->user);
          else
            json_builder_add_null_value (builder);
          json_builder_set_member_name (builder, "provider");
          if (profile->provider != NULL)
            json_builder_add_string_value (builder, profile->provider);
          else
            json_builder_add_null_value (builder);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);

      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      json_generator_set_pretty (generator, TRUE);
      text = json_generator_to_data (generator, NULL);
      g_print ("%s\n", text);
      return EXIT_SUCCESS;
    }

  for (guint i = 0; i < profiles->len; i++)
    {
      const DoctorProfile *profile = g_ptr_array_index (profiles, i);

      g_print ("%s\n", profile->name);
    }

  return EXIT_SUCCESS;
}

static int
delete_profile (const Options *options)
{
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uuid = NULL;
  const DoctorProfile *profile;
  int status = EXIT_SUCCESS;

  store = open_store (&status);
  if (store == NULL)
    return status;

  profile = doctor_profile_store_find (store, options->delete_profile);
  if (profile == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("There is no profile named “%s”"),
                                                  options->delete_profile);
      return usage_error (message);
    }

  uuid = g_strdup (profile->uuid);
  doctor_profile_store_remove (store, uuid);
  if (!doctor_profile_store_save (store, &error))
    {
      note (error->message);
      return EXIT_FAILURE_FOUND;
    }

  if (!doctor_keyring_clear_sync (uuid, NULL, &error))
    {
      /* The profile is gone; a password left in a keyring that cannot be reached now is
       * said, not hidden. */
      note (error->message);
      return EXIT_WARNING;
    }

  return EXIT_SUCCESS;
}

/* Building the target ------------------------------------------------------------------------ */

typedef struct
{
  DoctorTarget      *target;
  DoctorProfile     *profile;       /* the profile the settings came from, or NULL */
  char              *provider;
  char              *env_secret;    /* a password found in the .env file */
  DoctorDiscovery   *discovery;     /* where the settings were found, with --discover */
} Base;

static void
base_clear (Base *base)
{
  g_clear_pointer (&base->target, doctor_target_free);
  g_clear_pointer (&base->profile, doctor_profile_free);
  g_clear_pointer (&base->provider, g_free);
  g_clear_pointer (&base->env_secret, doctor_secret_free);
  g_clear_object (&base->discovery);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Base, base_clear)

static void
on_discovered (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  RunState *state = user_data;

  doctor_discovery_run_finish (DOCTOR_DISCOVERY (object), result, &state->error);
  state->done = TRUE;
  g_main_loop_quit (state->loop);
}

/* --discover ADDRESS: the settings come from DNS (SRV, MX) and the presets, each verified by
 * a probe without credentials; the best becomes the target. */
static int
discover (const Options *options,
          Base          *base)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  RunState state = { loop, FALSE, NULL };
  g_autofree char *domain = NULL;
  const DoctorCandidate *best;
  GPtrArray *candidates;
  GPtrArray *notes;
  guint timeout = 0;

  if (options->rest != NULL && options->rest[0] != NULL)
    return usage_error (_("--discover takes the place of the server: give one or the other"));
  if (options->timeout_text != NULL && !parse_timeout (options->timeout_text, &timeout))
    return usage_error (_("The timeout must be a number of seconds, at most 3600"));
  if (!doctor_discovery_parse_domain (options->discover, &domain, &error))
    return usage_error (error->message);

  base->discovery = doctor_discovery_new (options->discover,
                                          timeout != 0 ? timeout
                                                       : DOCTOR_DEFAULT_TIMEOUT_SECONDS * 1000,
                                          NULL);
  if (options->helo != NULL)
    doctor_discovery_set_helo_name (base->discovery, options->helo);

  if (!options->json)
    {
      g_autofree char *text = g_strdup_printf (_("Looking for the mail settings of %s…"),
                                               options->discover);
      g_print ("%s\n", text);
    }

  doctor_discovery_run_async (base->discovery, NULL, on_discovered, &state);
  if (!state.done)
    g_main_loop_run (loop);

  if (state.error != NULL)
    {
      note (state.error->message);
      g_clear_error (&state.error);
      return EXIT_FAILURE_FOUND;
    }

  candidates = doctor_discovery_get_candidates (base->discovery);
  notes = doctor_discovery_get_notes (base->discovery);
  if (!options->json)
    {
      for (guint i = 0; i < candidates->len; i++)
        {
          const DoctorCandidate *c = g_ptr_array_index (candidates, i);

          g_print ("  %-6s %s:%u %-14s %s\n", c->source, c->host, c->port,
                   doctor_security_get_label (c->security),
                   c->probe_summary != NULL ? c->probe_summary : "");
        }
      for (guint i = 0; notes != NULL && i < notes->len; i++)
        g_print ("  %s\n", (const char *) g_ptr_array_index (notes, i));
      g_print ("\n");
    }

  best = doctor_discovery_get_best (base->discovery);
  if (best == NULL && candidates->len > 0)
    best = g_ptr_array_index (candidates, 0);
  if (best == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("No mail settings could be found for %s"),
                                               options->discover);
      note (text);
      return EXIT_FAILURE_FOUND;
    }

  base->target = doctor_target_new (best->host, best->port, best->security);
  base->provider = g_strdup (best->provider != NULL ? best->provider->id : NULL);

  return EXIT_SUCCESS;
}

static void
set_string_or_null (JsonObject *object,
                    const char *name,
                    const char *value)
{
  if (value != NULL)
    json_object_set_string_member (object, name, value);
  else
    json_object_set_null_member (object, name);
}

static void
add_discovery_json (JsonObject      *root,
                    DoctorDiscovery *discovery)
{
  GPtrArray *candidates = doctor_discovery_get_candidates (discovery);
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < candidates->len; i++)
    {
      const DoctorCandidate *c = g_ptr_array_index (candidates, i);
      JsonObject *object = json_object_new ();

      json_object_set_string_member (object, "host", c->host);
      json_object_set_int_member (object, "port", c->port);
      json_object_set_string_member (object, "security", doctor_security_to_string (c->security));
      json_object_set_string_member (object, "source", c->source);
      set_string_or_null (object, "detail", c->detail);
      set_string_or_null (object, "probe", c->probe_result);
      set_string_or_null (object, "probe_summary", c->probe_summary);
      json_array_add_object_element (array, object);
    }

  json_object_set_array_member (root, "discovery", array);
}

static int
load_base (const Options *options,
           Base          *base)
{
  if ((options->profile != NULL) + (options->env_file != NULL) + (options->discover != NULL) > 1)
    return usage_error (_("Use only one of --profile, --env-file and --discover"));

  if (options->discover != NULL)
    return discover (options, base);

  if (options->profile != NULL)
    {
      g_autoptr(DoctorProfileStore) store = NULL;
      const DoctorProfile *profile;
      int status = EXIT_SUCCESS;

      store = open_store (&status);
      if (store == NULL)
        return status;

      profile = doctor_profile_store_find (store, options->profile);
      if (profile == NULL)
        {
          g_autofree char *message = g_strdup_printf (_("There is no profile named “%s”"),
                                                      options->profile);
          return usage_error (message);
        }

      base->profile = doctor_profile_copy (profile);
      base->target = doctor_profile_to_target (profile);
      base->provider = g_strdup (profile->provider);
    }
  else if (options->env_file != NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (options->env_file);
      g_autoptr(DoctorEnvFile) env = NULL;
      g_autoptr(DoctorEnvImport) import = NULL;
      g_autoptr(GError) error = NULL;
      GPtrArray *warnings;

      env = doctor_env_file_load (file, &error);
      if (env == NULL)
        return usage_error (error->message);

      warnings = doctor_env_file_get_warnings (env);
      for (guint i = 0; warnings != NULL && i < warnings->len; i++)
        note (g_ptr_array_index (warnings, i));

      import = doctor_env_import (env, &error);
      if (import == NULL)
        return usage_error (error->message);

      /* What was read goes to standard error, so that --json stays clean. The password is
       * named by its key, never shown. */
      if (!options->json)
        {
          g_autofree char *text = g_strdup_printf (_("Settings of %s found in %s:"),
                                                   doctor_env_framework_get_label (import->framework),
                                                   options->env_file);
          note (text);
          for (guint i = 0; i < import->found->len; i++)
            g_printerr ("  %s\n", (const char *) g_ptr_array_index (import->found, i));
          for (guint i = 0; i < import->ignored->len; i++)
            g_printerr (_("  ignored: %s\n"), (const char *) g_ptr_array_index (import->ignored, i));
        }

      base->target = doctor_target_copy (import->target);
      base->env_secret = g_strdup (import->target->secret);
      doctor_target_set_secret (base->target, NULL);
    }

  return EXIT_SUCCESS;
}

/* Lays the command line over @base (a profile, a .env file, or nothing). */
static int
make_target (const Options  *options,
             Base           *base,
             DoctorTarget  **out)
{
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  g_autofree char *uri_user = NULL;
  gboolean uri_security = FALSE;
  gboolean port_given = FALSE;
  gboolean from_base;
  DoctorSecurity security = DOCTOR_SECURITY_STARTTLS;
  guint16 port = 0;

  *out = NULL;

  if (options->rest != NULL && options->rest[0] != NULL && options->rest[1] != NULL)
    return usage_error (_("Only one server can be given"));

  if (options->rest != NULL && options->rest[0] != NULL)
    {
      if (!doctor_parse_target (options->rest[0], &host, &port, &security, &uri_security,
                                &uri_user, &error))
        return usage_error (error->message);
      port_given = port != 0;
    }
  else if (base->target == NULL)
    {
      return usage_error (_("No server was given"));
    }

  if (options->port_text != NULL)
    {
      guint64 value;
      g_autofree char *message = NULL;

      if (!g_ascii_string_to_unsigned (options->port_text, 10, 1, 65535, &value, NULL))
        {
          message = g_strdup_printf (_("“%s” is not a port number from 1 to 65535"),
                                     options->port_text);
          return usage_error (message);
        }
      if (port != 0 && port != value)
        {
          message = g_strdup_printf (_("The port is given twice (%u and %s)"), port,
                                     options->port_text);
          return usage_error (message);
        }
      port = (guint16) value;
      port_given = TRUE;
    }

  if (options->security_text != NULL)
    {
      DoctorSecurity given = security;

      if (!doctor_security_from_string (options->security_text, &security))
        {
          g_autofree char *message =
            g_strdup_printf (_("“%s” is not a security mode: use starttls, tls or none"),
                             options->security_text);
          return usage_error (message);
        }
      if (uri_security && given != security)
        return usage_error (_("The security mode of the address and --security disagree"));
      uri_security = TRUE;
    }

  from_base = base->target != NULL;
  if (from_base)
    target = g_steal_pointer (&base->target);
  else
    target = doctor_target_new (host, 0, DOCTOR_SECURITY_STARTTLS);

  if (host != NULL)
    replace_string (&target->host, host);
  if (port_given)
    target->port = port;

  /* The mode: as given; else what the profile or file said, unless a port given here is the
   * usual one of another mode (RFC 8314: 465 is implicit TLS); else by the port. */
  if (uri_security)
    target->security = security;
  else if (!from_base)
    target->security = target->port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS;
  else if (port_given && port == 465)
    target->security = DOCTOR_SECURITY_TLS;
  else if (port_given && target->security == DOCTOR_SECURITY_TLS)
    target->security = DOCTOR_SECURITY_STARTTLS;

  if (options->user != NULL)
    replace_string (&target->user, options->user);
  else if (uri_user != NULL)
    replace_string (&target->user, uri_user);
  if (options->allow_plaintext)
    target->allow_plaintext_auth = TRUE;
  if (options->ca_file != NULL)
    replace_string (&target->ca_file, options->ca_file);
  if (options->timeout_text != NULL &&
      !parse_timeout (options->timeout_text, &target->timeout_ms))
    {
      g_autofree char *message =
        g_strdup_printf (_("“%s” is not a timeout in seconds (more than 0, at most 3600)"),
                         options->timeout_text);
      return usage_error (message);
    }
  if (options->helo != NULL)
    replace_string (&target->helo_name, options->helo);
  if (options->mail_from != NULL)
    replace_string (&target->mail_from, options->mail_from);
  if (options->rcpt_to != NULL)
    replace_string (&target->rcpt_to, options->rcpt_to);

  /* A .env file names a sender but never a recipient; a test message needs both. */
  if (options->env_file != NULL && options->rcpt_to == NULL)
    g_clear_pointer (&target->mail_from, g_free);

  if (options->password_stdin && options->password_env != NULL)
    return usage_error (_("Use either --password-stdin or --password-env, not both"));

  if ((options->password_stdin || options->password_env != NULL) && target->user == NULL)
    return usage_error (_("A password needs a user name (--user)"));

  /* Everything that goes on the wire is checked before a password is asked for. */
  if (!doctor_target_validate (target, &error))
    return usage_error (error->message);

  *out = g_steal_pointer (&target);
  return EXIT_SUCCESS;
}

/* The password, from the first source that has one: standard input, an environment variable,
 * the .env file, the keyring (for a profile), the terminal. */
static int
find_password (const Options *options,
               Base          *base,
               DoctorTarget  *target,
               gboolean       needed)
{
  g_autoptr(GError) error = NULL;
  char *secret = NULL;

  if (target->user == NULL)
    return EXIT_SUCCESS;

  if (options->password_stdin)
    {
      secret = read_secret_line (stdin);
      if (secret == NULL)
        return usage_error (_("The password is longer than 1024 bytes"));
    }
  else if (options->password_env != NULL)
    {
      const char *value = g_getenv (options->password_env);

      if (value == NULL)
        {
          g_autofree char *message =
            g_strdup_printf (_("The environment variable %s is not set"), options->password_env);
          return usage_error (message);
        }
      secret = g_strdup (value);
    }
  else if (!needed)
    {
      /* Saving keeps only a password given for that purpose on this command line. */
      return EXIT_SUCCESS;
    }
  else if (base->env_secret != NULL && *base->env_secret != '\0')
    {
      secret = g_strdup (base->env_secret);
    }
  else if (base->profile != NULL && base->profile->remember_password)
    {
      secret = doctor_keyring_lookup_sync (base->profile->uuid, NULL, &error);
      if (error != NULL)
        note (error->message);
      else if (secret == NULL)
        note (_("The keyring holds no password for this profile"));
    }

  if (secret == NULL && needed && isatty (STDIN_FILENO))
    secret = prompt_secret (target->user);

  if (secret == NULL)
    {
      if (!needed)
        return EXIT_SUCCESS;
      return usage_error (_("A login needs a password: use --password-stdin, --password-env or "
                            "run on a terminal to be asked"));
    }

  doctor_target_set_secret (target, secret);
  doctor_secret_free (secret);

  if (!doctor_target_validate (target, &error))
    return usage_error (error->message);

  return EXIT_SUCCESS;
}

static int
save_profile (const Options *options,
              Base          *base,
              DoctorTarget  *target)
{
  g_autoptr(DoctorProfileStore) store = NULL;
  g_autoptr(DoctorProfile) profile = NULL;
  g_autoptr(GError) error = NULL;
  const DoctorProfile *existing;
  int status = EXIT_SUCCESS;

  store = open_store (&status);
  if (store == NULL)
    return status;

  profile = doctor_profile_new_from_target (options->save_profile, target, base->provider);

  /* Saving under an existing name updates that profile: same uuid, same keyring item. */
  existing = doctor_profile_store_find (store, options->save_profile);
  if (existing != NULL && g_strcmp0 (existing->name, options->save_profile) == 0)
    {
      replace_string (&profile->uuid, existing->uuid);
      profile->remember_password = existing->remember_password;
    }
  if (target->secret != NULL)
    profile->remember_password = TRUE;

  if (!doctor_profile_store_put (store, profile, &error) ||
      !doctor_profile_store_save (store, &error))
    {
      note (error->message);
      return EXIT_FAILURE_FOUND;
    }

  if (target->secret != NULL &&
      !doctor_keyring_store_sync (profile->uuid, target->host, target->user, NULL,
                                  target->secret, NULL, &error))
    {
      /* The settings are saved; the password is not, and is never written anywhere else. */
      note (error->message);
      return EXIT_WARNING;
    }

  if (!options->json)
    {
      g_autofree char *text = g_strdup_printf (_("Saved the profile “%s”"), profile->name);
      note (text);
    }

  return EXIT_SUCCESS;
}

/* The run ------------------------------------------------------------------------------------- */

static int
diagnose (const Options *options,
          Base          *base,
          DoctorTarget  *target)
{
  g_autoptr(DoctorDiagnosis) diagnosis = NULL;
  g_autoptr(DoctorCliOutput) output = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  RunState state = { 0 };
  guint sigint_id, sigterm_id;
  DoctorCheckStatus verdict;

  diagnosis = doctor_diagnosis_new (target);
  doctor_diagnosis_set_scan_ports (diagnosis, options->scan_ports);
  cancellable = g_cancellable_new ();
  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;

  if (!options->json)
    {
      output = doctor_cli_output_new (diagnosis, stdout, options->verbose);
      doctor_cli_output_header (output);
    }

  sigint_id = g_unix_signal_add (SIGINT, on_interrupt, cancellable);
  sigterm_id = g_unix_signal_add (SIGTERM, on_interrupt, cancellable);

  doctor_diagnosis_run_async (diagnosis, cancellable, on_run_done, &state);
  if (!state.done)
    g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);

  if (options->json)
    {
      g_autoptr(JsonNode) root = doctor_report_build_json (diagnosis);
      g_autoptr(JsonGenerator) generator = json_generator_new ();
      g_autofree char *text = NULL;

      /* Added to version 1 with --discover: every candidate and what its probe found. */
      if (base->discovery != NULL)
        add_discovery_json (json_node_get_object (root), base->discovery);

      json_generator_set_pretty (generator, TRUE);
      json_generator_set_indent (generator, 2);
      json_generator_set_root (generator, root);
      text = json_generator_to_data (generator, NULL);
      g_print ("%s\n", text);
    }
  else
    {
      doctor_cli_output_finish (output);
    }

  if (g_error_matches (state.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&state.error);
      return 130;
    }
  if (g_error_matches (state.error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT))
    {
      int status = usage_error (state.error->message);

      g_clear_error (&state.error);
      return status;
    }
  g_clear_error (&state.error);

  verdict = doctor_diagnosis_get_verdict (diagnosis);
  if (verdict == DOCTOR_CHECK_FAIL)
    return EXIT_FAILURE_FOUND;
  if (verdict == DOCTOR_CHECK_WARN)
    return EXIT_WARNING;

  return EXIT_SUCCESS;
}

int
main (int   argc,
      char *argv[])
{
  g_auto(Options) options = { 0 };
  g_auto(Base) base = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DoctorTarget) target = NULL;
  const char *localedir;
  int status;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_STRING, &options.port_text,
      N_("Port (default from the security mode: tls 465, starttls 587, none 25)"), N_("PORT") },
    { "security", 's', 0, G_OPTION_ARG_STRING, &options.security_text,
      N_("starttls, tls or none (default: tls for port 465, else starttls)"), N_("MODE") },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &options.user, N_("Log in as this user"), N_("NAME") },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &options.password_stdin,
      N_("Read the password from the first line of standard input"), NULL },
    { "password-env", 0, 0, G_OPTION_ARG_STRING, &options.password_env,
      N_("Read the password from environment variable VAR"), N_("VAR") },
    { "allow-plaintext-auth", 0, 0, G_OPTION_ARG_NONE, &options.allow_plaintext,
      N_("Permit a login without TLS (off by default)"), NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &options.ca_file,
      N_("Also trust the CA certificates in FILE (PEM)"), N_("FILE") },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &options.timeout_text,
      N_("Deadline for each step (default 30)"), N_("SECONDS") },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &options.helo,
      N_("EHLO name (default: the local host name)"), N_("NAME") },
    { "from", 0, 0, G_OPTION_ARG_STRING, &options.mail_from,
      N_("Sender of a test message (with --to)"), N_("ADDR") },
    { "to", 0, 0, G_OPTION_ARG_STRING, &options.rcpt_to,
      N_("Recipient of a test message (with --from)"), N_("ADDR") },
    { "scan-ports", 0, 0, G_OPTION_ARG_NONE, &options.scan_ports,
      N_("Also probe ports 25, 465, 587 and 2525 in both modes"), NULL },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &options.profile,
      N_("Use the settings of a saved profile, and its password from the keyring"), N_("NAME") },
    { "save-profile", 0, 0, G_OPTION_ARG_STRING, &options.save_profile,
      N_("Save these settings (and the password, in the keyring) as a profile, then exit"),
      N_("NAME") },
    { "list-profiles", 0, 0, G_OPTION_ARG_NONE, &options.list_profiles,
      N_("List the saved profiles, one a line (a JSON array with --json)"), NULL },
    { "delete-profile", 0, 0, G_OPTION_ARG_STRING, &options.delete_profile,
      N_("Delete a saved profile and its password"), N_("NAME") },
    { "discover", 0, 0, G_OPTION_ARG_STRING, &options.discover,
      N_("Find the settings for an email address (DNS SRV and MX records, the presets), then "
         "check the best"), N_("ADDRESS") },
    { "env-file", 0, 0, G_OPTION_ARG_FILENAME, &options.env_file,
      N_("Use the mail settings of an application’s .env file (Laravel, Symfony, Django, …)"),
      N_("FILE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      N_("Print the report as JSON on standard output"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options.verbose,
      N_("Also print every check's details and the SMTP transcript"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &options.version, N_("Show the version and exit"),
      NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.rest, NULL,
      N_("HOST[:PORT] or smtp[s]://[USER@]HOST[:PORT]") },
    { NULL }
  };

  setlocale (LC_ALL, "");
  /* The translations of another tree, such as the build's (the tests use it). */
  localedir = g_getenv ("SMTP_DOCTOR_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_prgname ("smtp-doctor-cli");
  prgname = g_get_prgname ();

  /* Standard output is the report (JSON for scripts): every log line, debug included, goes to
   * standard error. */
  g_log_writer_default_set_use_stderr (TRUE);

  context = g_option_context_new (_("HOST[:PORT] — find out why mail will not send"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("Exit status: 0 every check passed or was skipped, 1 a warning, 2 a failure, "
      "3 a usage error.\n"
      "The password is never given as an argument: use --password-stdin, --password-env, a "
      "saved profile, or answer the prompt."));

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (error->message);

  if (options.version)
    {
      g_print ("smtp-doctor-cli %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if ((options.list_profiles ? 1 : 0) + (options.delete_profile != NULL ? 1 : 0) +
      (options.save_profile != NULL ? 1 : 0) > 1)
    return usage_error (_("Use only one of --list-profiles, --delete-profile and "
                          "--save-profile"));

  if (options.list_profiles)
    return list_profiles (&options);

  if (options.delete_profile != NULL)
    return delete_profile (&options);

  if (options.save_profile != NULL && *options.save_profile == '\0')
    return usage_error (_("A profile needs a name"));

  status = load_base (&options, &base);
  if (status != EXIT_SUCCESS)
    return status;

  status = make_target (&options, &base, &target);
  if (status != EXIT_SUCCESS)
    return status;

  /* Saving asks for nothing: a password is kept only when one was given. */
  status = find_password (&options, &base, target, options.save_profile == NULL);
  if (status != EXIT_SUCCESS)
    return status;

  if (options.save_profile != NULL)
    return save_profile (&options, &base, target);

  return diagnose (&options, &base, target);
}
