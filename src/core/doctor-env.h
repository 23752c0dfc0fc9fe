/* doctor-env.h: reading the .env files of web frameworks, and writing them.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Three layers. DoctorEnvFile is a dotenv file parsed the way the frameworks' own readers do it
 * (phpdotenv for Laravel, Symfony Dotenv, python-dotenv and django-environ, Node's dotenv):
 * KEY=value lines, "export", comments, both kinds of quotes, escapes, multi-line values and
 * ${VAR} references to keys defined earlier in the same file. DoctorEnvImport is what a file
 * means for a diagnosis: the framework whose settings were used, a DoctorTarget, and lists of
 * what was found and what was ignored, for the user to see before the form is filled. Finally
 * doctor_env_export() writes a target back as the lines a framework reads ("Copy as .env").
 *
 * Values are kept exactly as given: they are data, and they contain passwords. The parser never
 * puts a value into a warning or an error, the import lists name the password key but never
 * its value, and every copy of a value is wiped before it is freed.
 */
#pragma once

#include <gio/gio.h>

#include "doctor-target.h"

G_BEGIN_DECLS

/* Bounds: a .env file is a few kilobytes that a person wrote. */
#define DOCTOR_ENV_MAX_FILE_SIZE      (1024 * 1024)      /* bytes, the file is refused above */
#define DOCTOR_ENV_MAX_LINE_LENGTH    (64 * 1024)        /* bytes, the file is refused above */
#define DOCTOR_ENV_MAX_KEYS           10000              /* distinct keys, refused above */
#define DOCTOR_ENV_MAX_VALUE_LENGTH   (64 * 1024)        /* bytes of one value after expansion */
#define DOCTOR_ENV_MAX_TOTAL_LENGTH   (4 * 1024 * 1024)  /* bytes of all values together */
#define DOCTOR_ENV_MAX_WARNINGS       100                /* then one "more problems" line */

/* What doctor_env_export() writes instead of the password unless it is asked for. */
#define DOCTOR_ENV_PASSWORD_PLACEHOLDER     "your-password-here"
#define DOCTOR_ENV_DSN_PASSWORD_PLACEHOLDER "PASSWORD"

#define DOCTOR_ENV_ERROR (doctor_env_error_quark ())

typedef enum
{
  DOCTOR_ENV_ERROR_TOO_LARGE,     /* the file, a line or the number of keys is over its bound */
  DOCTOR_ENV_ERROR_NOT_TEXT,      /* NUL bytes or UTF-16: not a dotenv file */
  DOCTOR_ENV_ERROR_NO_SETTINGS,   /* no mail settings of any framework in the file */
  DOCTOR_ENV_ERROR_NO_SERVER,     /* mail settings, but none that send over SMTP to a server */
  DOCTOR_ENV_ERROR_INVALID,       /* a DSN or URL that cannot be read */
} DoctorEnvError;

typedef enum
{
  DOCTOR_ENV_FRAMEWORK_LARAVEL,     /* MAIL_* (and Laravel 11's MAIL_SCHEME, MAIL_URL) */
  DOCTOR_ENV_FRAMEWORK_SYMFONY,     /* MAILER_DSN */
  DOCTOR_ENV_FRAMEWORK_DJANGO,      /* EMAIL_*, DEFAULT_FROM_EMAIL, django-environ's EMAIL_URL */
  DOCTOR_ENV_FRAMEWORK_KHADEM,      /* SMTP_HOST, SMTP_USERNAME, SMTP_ENCRYPTION … */
  DOCTOR_ENV_FRAMEWORK_NODEMAILER,  /* SMTP_URL, or SMTP_HOST, SMTP_USER, SMTP_PASS, SMTP_SECURE */
} DoctorEnvFramework;

#define DOCTOR_ENV_N_FRAMEWORKS 5

typedef struct _DoctorEnvFile DoctorEnvFile;

typedef struct
{
  DoctorEnvFramework  framework;
  DoctorTarget       *target;        /* host is always set; rcpt_to never is */
  GPtrArray          *found;         /* (element-type utf8): "MAIL_HOST → server “…”" */
  GPtrArray          *ignored;       /* (element-type utf8): "MAIL_MAILER=log: …" */
  const char         *password_key;  /* static: the key that holds the password, or NULL */
} DoctorEnvImport;

GQuark              doctor_env_error_quark           (void);

DoctorEnvFile      *doctor_env_file_load             (GFile               *file,
                                                      GError             **error);
DoctorEnvFile      *doctor_env_file_parse            (const char          *data,
                                                      gsize                length,
                                                      GError             **error);
const char         *doctor_env_file_get              (DoctorEnvFile       *env,
                                                      const char          *key);
const char * const *doctor_env_file_get_keys         (DoctorEnvFile       *env);
guint               doctor_env_file_get_line         (DoctorEnvFile       *env,
                                                      const char          *key);
GPtrArray          *doctor_env_file_get_warnings     (DoctorEnvFile       *env);
void                doctor_env_file_free             (DoctorEnvFile       *env);

DoctorEnvImport    *doctor_env_import                (DoctorEnvFile       *env,
                                                      GError             **error);
void                doctor_env_import_free           (DoctorEnvImport     *import);

char               *doctor_env_export                (const DoctorTarget  *target,
                                                      DoctorEnvFramework   framework,
                                                      gboolean             include_password);

const char         *doctor_env_framework_to_string   (DoctorEnvFramework   framework);
gboolean            doctor_env_framework_from_string (const char          *string,
                                                      DoctorEnvFramework  *framework);
const char         *doctor_env_framework_get_label   (DoctorEnvFramework   framework);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorEnvFile, doctor_env_file_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorEnvImport, doctor_env_import_free)

G_END_DECLS
