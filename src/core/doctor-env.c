/* doctor-env.c: reading the .env files of web frameworks, and writing them.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The parser follows what the frameworks' dotenv readers agree on, and where they differ it
 * takes the reading that is safest for a password:
 *
 *  - "KEY=value", optionally after "export ", with blanks allowed around "=". A key is a letter
 *    or "_" followed by letters, digits, "_", "." or "-".
 *  - "#" starts a comment at the start of a line, and after an unquoted value only when a blank
 *    comes before it ("pa#ss" is a value, "pass # note" is "pass"), as phpdotenv and
 *    python-dotenv read it.
 *  - Single quotes are literal: no escapes, no expansion; they may span lines.
 *  - Double quotes take the escapes \n \r \t \" \\ \$, may span lines, and expand references.
 *  - Unquoted values are trimmed and expand references; backslashes in them are literal.
 *  - ${VAR}, ${VAR:-default} and $VAR are replaced by the value of VAR as set earlier in the same
 *    file. The process environment is never read: a diagnosis must depend on the file alone,
 *    not on the shell SMTP Doctor runs in. A reference to a key not defined above is kept as
 *    written, as phpdotenv does (Laravel's passwords are often "pa$word" unquoted), and the line
 *    gets a warning. Values are expanded when they are defined and stored expanded, so there is
 *    no recursion: the depth of an expansion is always one, and "A=${A}" can only see an
 *    earlier A. Growth is what remains ("A=${A}${A}" over and over): each value is bounded to
 *    DOCTOR_ENV_MAX_VALUE_LENGTH after expansion and all values together to
 *    DOCTOR_ENV_MAX_TOTAL_LENGTH; a line over either is skipped with a warning.
 *  - CRLF and lone CR line ends, and a UTF-8 byte order mark, are accepted.
 *  - A line that cannot be read (no "=", a bad key, an unclosed quote, text after a closing
 *    quote, a value that is not UTF-8) is skipped with a warning "line N: why"; the rest of the
 *    file is still read. A key set twice keeps its last value, as every framework does.
 *  - Files over 1 MiB, lines over 64 KiB, more than 10,000 keys, NUL bytes and UTF-16 are
 *    refused as a whole: that is not a .env file somebody wrote.
 *
 * Warnings and errors name lines and keys, never values. Every value buffer is wiped before it
 * is freed.
 *
 * The import then reads one framework's settings. The choices where the frameworks are
 * ambiguous are explained where they are made: Laravel (import_laravel), Symfony
 * (import_symfony), Django (import_django), Khadem (import_khadem) and Nodemailer-style
 * settings (import_nodemailer). When a file holds the settings of several, the first one in
 * that order that names a server is used and the others are listed as ignored.
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "doctor-env.h"

G_DEFINE_QUARK (doctor-env-error-quark, doctor_env_error)

/* Frameworks ----------------------------------------------------------------------------------- */

static const char * const framework_ids[DOCTOR_ENV_N_FRAMEWORKS] = {
  "laravel", "symfony", "django", "khadem", "nodemailer",
};

/* Names of software: not translated. */
static const char * const framework_labels[DOCTOR_ENV_N_FRAMEWORKS] = {
  "Laravel", "Symfony", "Django", "Khadem", "Nodemailer",
};

const char *
doctor_env_framework_to_string (DoctorEnvFramework framework)
{
  g_return_val_if_fail ((guint) framework < DOCTOR_ENV_N_FRAMEWORKS, "laravel");

  return framework_ids[framework];
}

gboolean
doctor_env_framework_from_string (const char         *string,
                                  DoctorEnvFramework *framework)
{
  g_return_val_if_fail (string != NULL, FALSE);

  for (guint i = 0; i < DOCTOR_ENV_N_FRAMEWORKS; i++)
    {
      if (g_ascii_strcasecmp (string, framework_ids[i]) == 0)
        {
          *framework = (DoctorEnvFramework) i;
          return TRUE;
        }
    }

  return FALSE;
}

const char *
doctor_env_framework_get_label (DoctorEnvFramework framework)
{
  g_return_val_if_fail ((guint) framework < DOCTOR_ENV_N_FRAMEWORKS, "");

  return framework_labels[framework];
}

/* The file ------------------------------------------------------------------------------------- */

typedef struct
{
  char  *key;
  char  *value;   /* wiped on free */
  guint  line;    /* of the assignment in force */
} Entry;

struct _DoctorEnvFile
{
  GPtrArray  *entries;     /* (element-type Entry): in the order the keys first appear */
  GHashTable *index;       /* key → Entry, borrowed from entries */
  GPtrArray  *keys;        /* NULL-terminated, borrowed from entries */
  GPtrArray  *warnings;    /* (element-type utf8) */
  guint       n_warnings;  /* including those over the bound */
  gsize       total;       /* bytes of all values */
};

static void
entry_free (Entry *entry)
{
  g_free (entry->key);
  doctor_secret_free (entry->value);
  g_free (entry);
}

static DoctorEnvFile *
doctor_env_file_new (void)
{
  DoctorEnvFile *env = g_new0 (DoctorEnvFile, 1);

  env->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  env->index = g_hash_table_new (g_str_hash, g_str_equal);
  env->keys = g_ptr_array_new_null_terminated (16, NULL, TRUE);
  env->warnings = g_ptr_array_new_with_free_func (g_free);

  return env;
}

void
doctor_env_file_free (DoctorEnvFile *env)
{
  if (env == NULL)
    return;

  g_ptr_array_unref (env->keys);
  g_hash_table_unref (env->index);
  g_ptr_array_unref (env->entries);
  g_ptr_array_unref (env->warnings);
  g_free (env);
}

const char *
doctor_env_file_get (DoctorEnvFile *env,
                     const char    *key)
{
  Entry *entry;

  g_return_val_if_fail (env != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  entry = g_hash_table_lookup (env->index, key);
  return entry != NULL ? entry->value : NULL;
}

const char * const *
doctor_env_file_get_keys (DoctorEnvFile *env)
{
  g_return_val_if_fail (env != NULL, NULL);

  return (const char * const *) env->keys->pdata;
}

guint
doctor_env_file_get_line (DoctorEnvFile *env,
                          const char    *key)
{
  Entry *entry;

  g_return_val_if_fail (env != NULL, 0);
  g_return_val_if_fail (key != NULL, 0);

  entry = g_hash_table_lookup (env->index, key);
  return entry != NULL ? entry->line : 0;
}

GPtrArray *
doctor_env_file_get_warnings (DoctorEnvFile *env)
{
  g_return_val_if_fail (env != NULL, NULL);

  return env->warnings;
}

G_GNUC_PRINTF (2, 3)
static void
add_warning (DoctorEnvFile *env,
             const char    *format,
             ...)
{
  va_list args;

  env->n_warnings++;
  if (env->n_warnings == DOCTOR_ENV_MAX_WARNINGS + 1)
    g_ptr_array_add (env->warnings,
                     g_strdup (_("There are more problems in this file; they are not listed")));
  if (env->n_warnings > DOCTOR_ENV_MAX_WARNINGS)
    return;

  va_start (args, format);
  g_ptr_array_add (env->warnings, g_strdup_vprintf (format, args));
  va_end (args);
}

/* The parser ----------------------------------------------------------------------------------- */

typedef struct
{
  DoctorEnvFile *env;
  const char    *p;
  const char    *end;
  guint          line;          /* of p, from 1 */
  GString       *value;         /* reused for every value, never grown, wiped at the end */
  gboolean       too_long;      /* the value went over DOCTOR_ENV_MAX_VALUE_LENGTH */
  gboolean       undefined;     /* the value refers to a key not defined above */
} Parser;

typedef enum
{
  VALUE_OK,
  VALUE_UNCLOSED,       /* a quote that is never closed */
  VALUE_TRAILING,       /* text after the closing quote */
} ValueStatus;

static inline gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

static inline gboolean
is_eol (char c)
{
  return c == '\n' || c == '\r';
}

static inline gboolean
is_name_start (char c)
{
  return g_ascii_isalpha (c) || c == '_';
}

static inline gboolean
is_key_char (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '.' || c == '-';
}

/* Inside ${…}; a bare $VAR stops at the first character that is not a letter, digit or "_", so
 * that "$HOST." and "$USER-2" mean what they look like. */
static inline gboolean
is_braced_ref_char (char c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '.';
}

static inline gboolean
is_plain_ref_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

/* Appends without ever growing the buffer, so that no copy of a secret is left behind by a
 * reallocation. */
static void
parser_append (Parser     *self,
               const char *text,
               gsize       length)
{
  if (self->too_long || self->value->len + length > DOCTOR_ENV_MAX_VALUE_LENGTH)
    {
      self->too_long = TRUE;
      return;
    }

  g_string_append_len (self->value, text, length);
}

static void
parser_append_c (Parser *self,
                 char    c)
{
  parser_append (self, &c, 1);
}

static gboolean
parser_skip_blanks (Parser *self)
{
  const char *start = self->p;

  while (self->p < self->end && is_blank (*self->p))
    self->p++;

  return self->p != start;
}

static gboolean
parser_at_eol (Parser *self)
{
  return self->p >= self->end || is_eol (*self->p);
}

/* Steps over one line end (LF, CRLF or a lone CR) at p. */
static void
parser_newline (Parser *self)
{
  if (self->p >= self->end)
    return;

  if (self->p[0] == '\r' && self->p + 1 < self->end && self->p[1] == '\n')
    self->p += 2;
  else
    self->p++;
  self->line++;
}

static void
parser_skip_line (Parser *self)
{
  while (self->p < self->end && !is_eol (*self->p))
    self->p++;
  parser_newline (self);
}

/* Replaces a reference at p (a "$") with the value of the key it names, or copies it as written.
 * limit is where the value ends; in double quotes a default stops at the closing quote. */
static void
parser_expand (Parser     *self,
               const char *limit,
               gboolean    in_double)
{
  const char *start = self->p;
  const char *name;
  const char *name_end;
  const char *def = NULL;
  const char *def_end = NULL;
  const char *ref_end;
  const char *q;
  g_autofree char *key = NULL;
  Entry *entry;

  if (start + 1 < limit && start[1] == '{')
    {
      name = q = start + 2;
      if (q < limit && is_name_start (*q))
        {
          q++;
          while (q < limit && is_braced_ref_char (*q))
            q++;
        }
      name_end = q;
      if (q + 1 < limit && q[0] == ':' && q[1] == '-')
        {
          def = q = q + 2;
          while (q < limit && *q != '}' && !is_eol (*q) && !(in_double && *q == '"'))
            q++;
          def_end = q;
        }
      if (name_end == name || q >= limit || *q != '}')
        goto literal;
      ref_end = q + 1;
    }
  else if (start + 1 < limit && is_name_start (start[1]))
    {
      name = q = start + 1;
      while (q < limit && is_plain_ref_char (*q))
        q++;
      name_end = ref_end = q;
    }
  else
    {
      goto literal;
    }

  key = g_strndup (name, name_end - name);
  entry = g_hash_table_lookup (self->env->index, key);
  if (entry != NULL)
    {
      parser_append (self, entry->value, strlen (entry->value));
    }
  else if (def != NULL)
    {
      parser_append (self, def, def_end - def);
    }
  else
    {
      parser_append (self, start, ref_end - start);
      self->undefined = TRUE;
    }
  self->p = ref_end;
  return;

literal:
  parser_append_c (self, '$');
  self->p = start + 1;
}

static ValueStatus
parser_read_single (Parser *self)
{
  self->p++;

  while (self->p < self->end)
    {
      char c = *self->p;

      if (c == '\'')
        {
          self->p++;
          return VALUE_OK;
        }
      else if (is_eol (c))
        {
          parser_append_c (self, '\n');
          parser_newline (self);
        }
      else
        {
          parser_append_c (self, c);
          self->p++;
        }
    }

  return VALUE_UNCLOSED;
}

static ValueStatus
parser_read_double (Parser *self)
{
  self->p++;

  while (self->p < self->end)
    {
      char c = *self->p;

      if (c == '"')
        {
          self->p++;
          return VALUE_OK;
        }
      else if (c == '\\' && self->p + 1 < self->end)
        {
          char escaped;

          switch (self->p[1])
            {
            case 'n':  escaped = '\n'; break;
            case 'r':  escaped = '\r'; break;
            case 't':  escaped = '\t'; break;
            case '"':  escaped = '"';  break;
            case '\\': escaped = '\\'; break;
            case '$':  escaped = '$';  break;
            default:   escaped = '\0'; break;
            }

          if (escaped != '\0')
            {
              parser_append_c (self, escaped);
              self->p += 2;
            }
          else
            {
              /* An unknown escape is kept as written, as phpdotenv does. */
              parser_append_c (self, '\\');
              self->p++;
            }
        }
      else if (c == '$')
        {
          parser_expand (self, self->end, TRUE);
        }
      else if (is_eol (c))
        {
          parser_append_c (self, '\n');
          parser_newline (self);
        }
      else
        {
          parser_append_c (self, c);
          self->p++;
        }
    }

  return VALUE_UNCLOSED;
}

static void
parser_read_unquoted (Parser *self)
{
  const char *start = self->p;
  const char *stop = self->p;
  const char *value_end;

  while (stop < self->end && !is_eol (*stop))
    {
      if (*stop == '#' && stop > start && is_blank (stop[-1]))
        break;
      stop++;
    }

  value_end = stop;
  while (value_end > start && is_blank (value_end[-1]))
    value_end--;

  while (self->p < value_end)
    {
      if (*self->p == '$')
        {
          parser_expand (self, value_end, FALSE);
        }
      else
        {
          const char *run = self->p;

          while (self->p < value_end && *self->p != '$')
            self->p++;
          parser_append (self, run, self->p - run);
        }
    }

  self->p = stop;
}

/* Whether the rest of the current physical line has an "=": tells "no “=”" from a bad key. */
static gboolean
parser_line_has_equals (Parser *self)
{
  for (const char *q = self->p; q < self->end && !is_eol (*q); q++)
    {
      if (*q == '=')
        return TRUE;
    }

  return FALSE;
}

static gboolean
parser_store (Parser      *self,
              const char  *key,
              guint        line,
              GError     **error)
{
  DoctorEnvFile *env = self->env;
  Entry *entry = g_hash_table_lookup (env->index, key);
  gsize length = self->value->len;
  gsize old_length = entry != NULL ? strlen (entry->value) : 0;

  if (env->total - old_length + length > DOCTOR_ENV_MAX_TOTAL_LENGTH)
    {
      add_warning (env, _("line %u: the values in this file are larger than %u MiB together; "
                          "the line was skipped"),
                   line, DOCTOR_ENV_MAX_TOTAL_LENGTH / (1024 * 1024));
      return TRUE;
    }

  if (entry != NULL)
    {
      /* Translators: %s is the name of a setting, such as MAIL_HOST. */
      add_warning (env, _("line %u: %s is set again; the value of this line is used"), line, key);
      doctor_secret_free (entry->value);
      entry->value = g_strndup (self->value->str, length);
      entry->line = line;
      env->total = env->total - old_length + length;
      return TRUE;
    }

  if (env->entries->len >= DOCTOR_ENV_MAX_KEYS)
    {
      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_TOO_LARGE,
                   _("The file has more than %u keys; this does not look like a .env file"),
                   DOCTOR_ENV_MAX_KEYS);
      return FALSE;
    }

  entry = g_new0 (Entry, 1);
  entry->key = g_strdup (key);
  entry->value = g_strndup (self->value->str, length);
  entry->line = line;
  g_ptr_array_add (env->entries, entry);
  g_ptr_array_add (env->keys, entry->key);
  g_hash_table_insert (env->index, entry->key, entry);
  env->total += length;

  return TRUE;
}

/* Reads one line, or one assignment whose quoted value spans lines. FALSE only for an error that
 * ends the whole parse. */
static gboolean
parser_read_entry (Parser  *self,
                   GError **error)
{
  guint line = self->line;
  const char *line_start = self->p;
  g_autofree char *key = NULL;
  const char *key_start;
  ValueStatus status = VALUE_OK;
  gboolean blank_before;

  parser_skip_blanks (self);
  if (parser_at_eol (self))
    {
      parser_newline (self);
      return TRUE;
    }
  if (*self->p == '#')
    {
      parser_skip_line (self);
      return TRUE;
    }

  if (self->end - self->p > 7 && memcmp (self->p, "export", 6) == 0 && is_blank (self->p[6]))
    {
      self->p += 6;
      parser_skip_blanks (self);
    }

  key_start = self->p;
  if (self->p < self->end && is_name_start (*self->p))
    {
      while (self->p < self->end && is_key_char (*self->p))
        self->p++;
      key = g_strndup (key_start, self->p - key_start);
    }
  parser_skip_blanks (self);

  if (key == NULL || self->p >= self->end || *self->p != '=')
    {
      if (parser_line_has_equals (self))
        add_warning (self->env, _("line %u: the name before “=” is not a valid key"), line);
      else
        add_warning (self->env, _("line %u: no “=”"), line);
      parser_skip_line (self);
      return TRUE;
    }

  self->p++;
  blank_before = parser_skip_blanks (self);
  g_string_truncate (self->value, 0);
  self->too_long = FALSE;
  self->undefined = FALSE;

  if (parser_at_eol (self) || (*self->p == '#' && blank_before))
    status = VALUE_OK;   /* an empty value, perhaps with a comment */
  else if (*self->p == '\'')
    status = parser_read_single (self);
  else if (*self->p == '"')
    status = parser_read_double (self);
  else
    parser_read_unquoted (self);

  if (status == VALUE_UNCLOSED)
    {
      add_warning (self->env, _("line %u: the quote is never closed; the line was skipped"), line);
      /* Go on after the line where the value started, not after the whole rest of the file. */
      self->p = line_start;
      self->line = line;
      parser_skip_line (self);
      return TRUE;
    }

  parser_skip_blanks (self);
  if (!parser_at_eol (self) && *self->p != '#')
    status = VALUE_TRAILING;
  parser_skip_line (self);

  if (status == VALUE_TRAILING)
    {
      add_warning (self->env, _("line %u: there is text after the closing quote; the line was "
                                "skipped"), line);
      return TRUE;
    }

  if (self->too_long)
    {
      add_warning (self->env, _("line %u: the value is longer than %u KiB once references are "
                                "expanded; the line was skipped"),
                   line, DOCTOR_ENV_MAX_VALUE_LENGTH / 1024);
      return TRUE;
    }

  if (!g_utf8_validate_len (self->value->str, self->value->len, NULL))
    {
      add_warning (self->env, _("line %u: the value is not valid UTF-8 text; the line was "
                                "skipped"), line);
      return TRUE;
    }

  if (self->undefined)
    add_warning (self->env, _("line %u: a $ reference names no key defined above it, so it was "
                              "kept as written"), line);

  return parser_store (self, key, line, error);
}

static gboolean
check_line_lengths (const char  *data,
                    const char  *end,
                    GError     **error)
{
  const char *line_start = data;
  guint line = 1;

  for (const char *p = data; p <= end; p++)
    {
      if (p == end || is_eol (*p))
        {
          if ((gsize) (p - line_start) > DOCTOR_ENV_MAX_LINE_LENGTH)
            {
              g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_TOO_LARGE,
                           _("Line %u is longer than %u KiB; this does not look like a .env "
                             "file"), line, DOCTOR_ENV_MAX_LINE_LENGTH / 1024);
              return FALSE;
            }
          if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
          line_start = p + 1;
          line++;
        }
    }

  return TRUE;
}

DoctorEnvFile *
doctor_env_file_parse (const char  *data,
                       gsize        length,
                       GError     **error)
{
  g_autoptr(DoctorEnvFile) env = NULL;
  Parser parser = { 0 };
  gboolean ok = TRUE;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length > DOCTOR_ENV_MAX_FILE_SIZE)
    {
      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_TOO_LARGE,
                   _("The file is larger than %u MiB; this does not look like a .env file"),
                   DOCTOR_ENV_MAX_FILE_SIZE / (1024 * 1024));
      return NULL;
    }

  if (length >= 2 && (((guchar) data[0] == 0xff && (guchar) data[1] == 0xfe) ||
                      ((guchar) data[0] == 0xfe && (guchar) data[1] == 0xff)))
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NOT_TEXT,
                           _("The file is in UTF-16; save it as UTF-8 to import it"));
      return NULL;
    }

  if (length > 0 && memchr (data, '\0', length) != NULL)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NOT_TEXT,
                           _("The file contains NUL bytes; it is not a text file"));
      return NULL;
    }

  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    {
      data += 3;
      length -= 3;
    }

  if (!check_line_lengths (data, data + length, error))
    return NULL;

  env = doctor_env_file_new ();
  parser.env = env;
  parser.p = data;
  parser.end = data + length;
  parser.line = 1;
  parser.value = g_string_sized_new (DOCTOR_ENV_MAX_VALUE_LENGTH + 1);

  while (ok && parser.p < parser.end)
    ok = parser_read_entry (&parser, error);

  explicit_bzero (parser.value->str, parser.value->allocated_len);
  g_string_free (parser.value, TRUE);

  return ok ? g_steal_pointer (&env) : NULL;
}

DoctorEnvFile *
doctor_env_file_load (GFile   *file,
                      GError **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autofree char *name = NULL;
  DoctorEnvFile *env;
  char *buffer;
  gsize length = 0;

  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  name = g_file_get_parse_name (file);

  /* Checked before reading: a FIFO or a device would block or never end. */
  info = g_file_query_info (file,
                            G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    {
      g_prefix_error (error, _("Could not read “%s”: "), name);
      return NULL;
    }

  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   _("“%s” is not a regular file"), name);
      return NULL;
    }

  if (g_file_info_get_size (info) > DOCTOR_ENV_MAX_FILE_SIZE)
    {
      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_TOO_LARGE,
                   _("“%s” is larger than %u MiB; this does not look like a .env file"),
                   name, DOCTOR_ENV_MAX_FILE_SIZE / (1024 * 1024));
      return NULL;
    }

  stream = g_file_read (file, NULL, error);
  if (stream == NULL)
    {
      g_prefix_error (error, _("Could not read “%s”: "), name);
      return NULL;
    }

  /* One byte more than allowed: the file may have grown since it was measured. */
  buffer = g_malloc (DOCTOR_ENV_MAX_FILE_SIZE + 1);
  if (!g_input_stream_read_all (G_INPUT_STREAM (stream), buffer, DOCTOR_ENV_MAX_FILE_SIZE + 1,
                                &length, NULL, error))
    {
      explicit_bzero (buffer, length);
      g_free (buffer);
      g_prefix_error (error, _("Could not read “%s”: "), name);
      return NULL;
    }

  env = doctor_env_file_parse (buffer, length, error);

  explicit_bzero (buffer, length);
  g_free (buffer);

  return env;
}

/* The import ----------------------------------------------------------------------------------- */

typedef struct
{
  DoctorEnvFile    *env;
  DoctorEnvImport  *result;
  GHashTable       *used;      /* keys read by the framework's import, static strings */
} Import;

void
doctor_env_import_free (DoctorEnvImport *import)
{
  if (import == NULL)
    return;

  g_clear_pointer (&import->target, doctor_target_free);
  g_clear_pointer (&import->found, g_ptr_array_unref);
  g_clear_pointer (&import->ignored, g_ptr_array_unref);
  g_free (import);
}

static void
import_init (Import        *self,
             DoctorEnvFile *env)
{
  self->env = env;
  self->result = g_new0 (DoctorEnvImport, 1);
  self->result->target = doctor_target_new (NULL, 0, DOCTOR_SECURITY_STARTTLS);
  self->result->found = g_ptr_array_new_with_free_func (g_free);
  self->result->ignored = g_ptr_array_new_with_free_func (g_free);
  self->used = g_hash_table_new (g_str_hash, g_str_equal);
}

static void
import_clear (Import *self)
{
  g_clear_pointer (&self->result, doctor_env_import_free);
  g_clear_pointer (&self->used, g_hash_table_unref);
}

/* A value, and a note that the framework read the key. key must be a static string. */
static const char *
import_get (Import     *self,
            const char *key)
{
  const char *value = doctor_env_file_get (self->env, key);

  if (value != NULL)
    g_hash_table_add (self->used, (gpointer) key);

  return value;
}

/* The same, with an empty value taken as no value. */
static const char *
import_get_set (Import     *self,
                const char *key)
{
  const char *value = import_get (self, key);

  return value != NULL && *value != '\0' ? value : NULL;
}

static gboolean
contains_secret (Import     *self,
                 const char *text)
{
  const char *secret = self->result->target->secret;

  return secret != NULL && *secret != '\0' && strstr (text, secret) != NULL;
}

/* Makes a value from the file fit for a list that a label shows: valid UTF-8 without control
 * or formatting characters (no bidi overrides), at most 80 characters, and never the password,
 * even when the password is part of it (Postmark's user name is its password). */
static char *
display_value (Import     *self,
               const char *value)
{
  g_autofree char *valid = NULL;
  GString *out;
  const char *p;
  guint n = 0;

  if (contains_secret (self, value))
    return g_strdup (_("(hidden)"));

  valid = g_utf8_make_valid (value, -1);
  out = g_string_new (NULL);
  for (p = valid; *p != '\0' && n < 80; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      switch (g_unichar_type (c))
        {
        case G_UNICODE_CONTROL:
        case G_UNICODE_FORMAT:
        case G_UNICODE_LINE_SEPARATOR:
        case G_UNICODE_PARAGRAPH_SEPARATOR:
        case G_UNICODE_UNASSIGNED:
        case G_UNICODE_SURROGATE:
        case G_UNICODE_PRIVATE_USE:
          g_string_append_unichar (out, 0xfffd);
          break;
        default:
          g_string_append_unichar (out, c);
        }
    }
  if (*p != '\0')
    g_string_append (out, "…");

  return g_string_free (out, FALSE);
}

/* A short word such as "log" or "smtp" that can be quoted in a message as it is; anything else is
 * left out of messages. */
static gboolean
is_token (const char *value)
{
  gsize length = 0;

  for (const char *p = value; *p != '\0'; p++, length++)
    {
      if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-' && *p != '+')
        return FALSE;
    }

  return length > 0 && length <= 40;
}

G_GNUC_PRINTF (3, 4)
static void
add_found (Import     *self,
           const char *key,
           const char *format,
           ...)
{
  g_autofree char *meaning = NULL;
  va_list args;

  va_start (args, format);
  meaning = g_strdup_vprintf (format, args);
  va_end (args);

  /* Translators: a key of the .env file and what SMTP Doctor took it for, such as
   * "MAIL_HOST → server “smtp.example.com”". */
  g_ptr_array_add (self->result->found, g_strdup_printf (_("%s → %s"), key, meaning));
}

G_GNUC_PRINTF (2, 3)
static void
add_ignored (Import     *self,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (self->result->ignored, g_strdup_vprintf (format, args));
  va_end (args);
}

/* "KEY=value" when the value is a harmless word, "KEY" otherwise: for the ignored list. */
static char *
key_and_token (Import     *self,
               const char *key,
               const char *value)
{
  if (value != NULL && is_token (value) && !contains_secret (self, value))
    return g_strdup_printf ("%s=%s", key, value);

  return g_strdup (key);
}

static void
take_host (Import     *self,
           const char *key,
           const char *host)
{
  g_autofree char *shown = NULL;

  g_free (self->result->target->host);
  self->result->target->host = g_strdup (host);
  shown = display_value (self, host);
  add_found (self, key, _("server “%s”"), shown);
}

/* FALSE (with a note) when the text is not a port number, so that the caller uses a default. */
static gboolean
take_port (Import     *self,
           const char *key,
           const char *text)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
    {
      g_autofree char *shown = display_value (self, text);

      add_ignored (self, _("%s: “%s” is not a port number from 1 to 65535"), key, shown);
      return FALSE;
    }

  self->result->target->port = (guint16) value;
  add_found (self, key, _("port %u"), (guint) value);
  return TRUE;
}

static void
take_user (Import     *self,
           const char *key,
           const char *user)
{
  g_autofree char *shown = NULL;

  g_free (self->result->target->user);
  self->result->target->user = g_strdup (user);
  shown = display_value (self, user);
  add_found (self, key, _("user name “%s”"), shown);
}

/* Sets the secret before anything else is listed, so that display_value() can hide it. FALSE
 * for the export's placeholder, which is not a password. */
static gboolean
set_secret (Import     *self,
            const char *key,
            const char *secret)
{
  if (g_str_equal (secret, DOCTOR_ENV_PASSWORD_PLACEHOLDER) ||
      g_str_equal (secret, DOCTOR_ENV_DSN_PASSWORD_PLACEHOLDER))
    {
      add_ignored (self, _("%s: still the placeholder “%s”; type the password into SMTP Doctor"),
                   key, secret);
      return FALSE;
    }

  doctor_target_set_secret (self->result->target, secret);
  self->result->password_key = key;
  return TRUE;
}

static void
found_secret (Import     *self,
              const char *key)
{
  if (self->result->target->secret != NULL)
    add_found (self, key, "%s", _("password (hidden)"));
}

/* "Name <address>" or a bare address. */
static void
take_from (Import     *self,
           const char *key,
           const char *value)
{
  const char *open = strrchr (value, '<');
  const char *close = open != NULL ? strchr (open, '>') : NULL;
  g_autofree char *address = NULL;
  g_autofree char *shown = NULL;

  if (open != NULL && close != NULL && close > open + 1)
    address = g_strndup (open + 1, close - open - 1);
  else
    address = g_strstrip (g_strdup (value));

  if (*address == '\0')
    return;

  g_free (self->result->target->mail_from);
  self->result->target->mail_from = g_steal_pointer (&address);
  shown = display_value (self, self->result->target->mail_from);
  add_found (self, key, _("sender “%s” (a test message also needs a recipient)"), shown);
}

static void
take_helo (Import     *self,
           const char *key,
           const char *value)
{
  g_autofree char *shown = NULL;

  g_free (self->result->target->helo_name);
  self->result->target->helo_name = g_strdup (value);
  shown = display_value (self, value);
  add_found (self, key, _("EHLO name “%s”"), shown);
}

/* Seconds, whole or (with fraction) decimal, from 1 ms to an hour: a larger number is more
 * likely milliseconds written by mistake than a timeout anybody wants. */
static void
take_timeout (Import     *self,
              const char *key,
              const char *text,
              gboolean    fraction)
{
  double seconds = -1;
  guint64 whole;
  char *end = NULL;

  if (fraction)
    {
      seconds = g_ascii_strtod (text, &end);
      if (end == text || *end != '\0')
        seconds = -1;
    }
  else if (g_ascii_string_to_unsigned (text, 10, 1, 3600, &whole, NULL))
    {
      seconds = (double) whole;
    }

  /* Written so that NaN fails too. */
  if (!(seconds >= 0.001 && seconds <= 3600))
    {
      g_autofree char *shown = display_value (self, text);

      add_ignored (self, _("%s: “%s” is not a timeout in seconds (an hour at most); the default "
                           "timeout is used"), key, shown);
      return;
    }

  self->result->target->timeout_ms = (guint) (seconds * 1000 + 0.999);
  add_found (self, key, _("timeout %g s"), seconds);
}

static void
set_security (Import         *self,
              DoctorSecurity  security)
{
  self->result->target->security = security;
}

static void
found_security (Import     *self,
                const char *key,
                const char *why)
{
  const char *label = doctor_security_get_label (self->result->target->security);

  if (why != NULL)
    {
      /* Translators: the first %s is a security mode such as STARTTLS, the second why. */
      add_found (self, key, _("%s (%s)"), label, why);
    }
  else
    {
      add_found (self, key, "%s", label);
    }
}

typedef enum
{
  BOOL_UNSET,
  BOOL_TRUE,
  BOOL_FALSE,
  BOOL_INVALID,
} Bool;

/* The words that django-environ and most apps' own code take for true and false. */
static Bool
parse_bool (const char *value)
{
  static const char * const yes[] = { "true", "1", "yes", "y", "on", "ok" };
  static const char * const no[] = { "false", "0", "no", "n", "off", "none" };

  if (value == NULL || *value == '\0')
    return BOOL_UNSET;

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (value, yes[i]) == 0)
        return BOOL_TRUE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (no); i++)
    {
      if (g_ascii_strcasecmp (value, no[i]) == 0)
        return BOOL_FALSE;
    }

  return BOOL_INVALID;
}

static Bool
import_get_bool (Import     *self,
                 const char *key)
{
  const char *value = import_get (self, key);
  Bool result = parse_bool (value);

  if (result == BOOL_INVALID)
    {
      g_autofree char *shown = key_and_token (self, key, value);

      add_ignored (self, _("%s: not a true or false value; taken as false"), shown);
      return BOOL_FALSE;
    }

  return result;
}

/* DSNs and URLs -------------------------------------------------------------------------------- */

typedef struct
{
  char       *scheme;            /* lower case */
  char       *host;              /* NULL: none */
  int         port;              /* -1: none */
  char       *user;              /* decoded; NULL: none */
  char       *password;          /* decoded; NULL: none; wiped */
  GHashTable *params;            /* decoded query options, or NULL */
  gboolean    plus_in_userinfo;  /* a raw "+" in the user name or password */
} Dsn;

static void
dsn_clear (Dsn *dsn)
{
  g_clear_pointer (&dsn->scheme, g_free);
  g_clear_pointer (&dsn->host, g_free);
  g_clear_pointer (&dsn->user, g_free);
  g_clear_pointer (&dsn->password, doctor_secret_free);
  g_clear_pointer (&dsn->params, g_hash_table_unref);
  dsn->port = -1;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Dsn, dsn_clear)

static void
wipe_const (const char *text)
{
  /* GUri's own copies are plain g_strdup()s that it frees without wiping; this is best effort,
   * since parsing may have made temporary copies too. */
  if (text != NULL)
    explicit_bzero ((char *) text, strlen (text));
}

/* Splits scheme://user:password@host:port?options with GUri. The user name and password are
 * percent-decoded; with plus_is_space, "+" is a space first, as PHP's urldecode() reads it
 * (Symfony). Reports no reason on purpose: GLib's messages quote parts of the text, and a part
 * can be the password when it was not percent-encoded. */
static gboolean
dsn_parse (const char *text,
           gboolean    plus_is_space,
           Dsn        *dsn)
{
  g_autoptr(GUri) uri = NULL;
  const char *raw;
  const char *query;
  gboolean ok = TRUE;

  dsn->port = -1;
  uri = g_uri_parse (text, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return FALSE;

  dsn->scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  if (g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0')
    dsn->host = g_uri_unescape_string (g_uri_get_host (uri), NULL);
  dsn->port = g_uri_get_port (uri);

  for (guint i = 0; i < 2 && ok; i++)
    {
      char **out = i == 0 ? &dsn->user : &dsn->password;
      char *copy;

      raw = i == 0 ? g_uri_get_user (uri) : g_uri_get_password (uri);
      if (raw == NULL || *raw == '\0')
        continue;
      if (strchr (raw, '+') != NULL)
        dsn->plus_in_userinfo = TRUE;

      copy = g_strdup (raw);
      if (plus_is_space)
        g_strdelimit (copy, "+", ' ');
      *out = g_uri_unescape_string (copy, NULL);
      doctor_secret_free (copy);
      /* "%80" decodes to a byte that is no text: such a name or password could never be
       * typed, shown or exported, so the DSN is as broken as one that does not parse. */
      if (*out == NULL || !g_utf8_validate (*out, -1, NULL))
        ok = FALSE;
    }

  if (dsn->host != NULL && !g_utf8_validate (dsn->host, -1, NULL))
    ok = FALSE;

  query = g_uri_get_query (uri);
  if (ok && query != NULL && *query != '\0')
    {
      dsn->params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
      if (dsn->params == NULL)
        ok = FALSE;
    }

  wipe_const (g_uri_get_password (uri));
  wipe_const (g_uri_get_userinfo (uri));

  if (!ok)
    dsn_clear (dsn);
  return ok;
}

static const char *
dsn_param (Dsn        *dsn,
           const char *name)
{
  return dsn->params != NULL ? g_hash_table_lookup (dsn->params, name) : NULL;
}

/* The scheme of a DSN, lower case, without parsing the rest; NULL without "://". */
static char *
dsn_scheme (const char *text)
{
  const char *sep = strstr (text, "://");

  if (sep == NULL || sep == text)
    return NULL;

  for (const char *p = text; p < sep; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '+' && *p != '-' && *p != '.')
        return NULL;
    }

  return g_ascii_strdown (text, sep - text);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The option names of a DSN, sorted, so that the lists come out the same every time. */
static GPtrArray *
dsn_param_names (Dsn *dsn)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer name;

  if (dsn->params != NULL)
    {
      g_hash_table_iter_init (&iter, dsn->params);
      while (g_hash_table_iter_next (&iter, &name, NULL))
        g_ptr_array_add (names, name);
    }
  g_ptr_array_sort (names, compare_names);

  return names;
}

static void
ignore_unknown_params (Import     *self,
                       const char *key,
                       Dsn        *dsn,
                       const char * const *known)
{
  g_autoptr(GPtrArray) names = dsn_param_names (dsn);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (known != NULL && g_strv_contains (known, name))
        continue;
      if (is_token (name))
        {
          /* Translators: the first %s is a key such as MAILER_DSN, the second an option. */
          add_ignored (self, _("%s: the option “%s” does not matter for a diagnosis"), key, name);
        }
      else
        {
          add_ignored (self, _("%s: an option that does not matter for a diagnosis"), key);
        }
    }
}

/* Laravel -------------------------------------------------------------------------------------- */

/* Laravel's env() reads "null", "(null)", "empty" and "(empty)" specially; for mail settings all
 * of them mean "not set", which is how .env.example writes MAIL_USERNAME=null. */
static const char *
laravel_get (Import     *self,
             const char *key)
{
  const char *value = import_get (self, key);

  if (value == NULL)
    return NULL;
  if (g_ascii_strcasecmp (value, "null") == 0 || g_ascii_strcasecmp (value, "(null)") == 0 ||
      g_ascii_strcasecmp (value, "empty") == 0 || g_ascii_strcasecmp (value, "(empty)") == 0 ||
      *value == '\0')
    return NULL;

  return value;
}

static void
laravel_mailer (Import *self)
{
  const char *key = "MAIL_MAILER";
  const char *mailer = laravel_get (self, key);
  g_autofree char *shown = NULL;

  if (mailer == NULL && (mailer = laravel_get (self, "MAIL_DRIVER")) != NULL)
    key = "MAIL_DRIVER";   /* Laravel 6 and older */

  if (mailer == NULL)
    {
      add_ignored (self, "%s", _("MAIL_MAILER is not set: Laravel 10 and older then use smtp, "
                                 "Laravel 11 and later log mail instead of sending it"));
      return;
    }

  if (g_ascii_strcasecmp (mailer, "smtp") == 0)
    {
      add_found (self, key, "%s", _("mail is sent over SMTP"));
      return;
    }

  shown = key_and_token (self, key, mailer);
  if (g_ascii_strcasecmp (mailer, "failover") == 0 ||
      g_ascii_strcasecmp (mailer, "roundrobin") == 0)
    add_ignored (self, _("%s: Laravel tries the mailers listed in config/mail.php; the SMTP "
                         "settings of this file were imported"), shown);
  else
    add_ignored (self, _("%s: Laravel does not send mail over SMTP with this mailer"), shown);
}

/* Laravel 9 and later send through Symfony Mailer, and config/mail.php passes MAIL_ENCRYPTION
 * and MAIL_SCHEME (Laravel 11) on as a DSN scheme: "smtps" means SSL/TLS, and otherwise Symfony
 * decides by the port: SSL/TLS on 465, and on any other port a plain connection that switches
 * to STARTTLS whenever the server offers it. So "ssl" on port 587 is STARTTLS since Laravel 9
 * (it was SSL/TLS with SwiftMailer in Laravel 8), and "null" on 587 is STARTTLS too. SMTP
 * Doctor imports what Laravel 9+ does, and checks with STARTTLS rather than without
 * encryption: that is what the app does with every server that offers it, and the check never
 * sends a password unencrypted. */
static void
laravel_security (Import     *self,
                  const char *scheme_key,
                  const char *scheme,
                  const char *encryption)
{
  guint16 port = doctor_target_get_port (self->result->target);

  if (scheme != NULL && g_ascii_strcasecmp (scheme, "smtps") == 0)
    {
      set_security (self, DOCTOR_SECURITY_TLS);
      found_security (self, scheme_key, NULL);
      return;
    }

  if (scheme != NULL && g_ascii_strcasecmp (scheme, "smtp") != 0)
    {
      g_autofree char *shown = key_and_token (self, scheme_key, scheme);

      add_ignored (self, _("%s: not smtp or smtps; Laravel then goes by the port"), shown);
    }

  set_security (self, port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS);

  if (encryption == NULL)
    {
      found_security (self, "MAIL_ENCRYPTION",
                      port == 465 ? _("not set: Laravel uses SSL/TLS on port 465")
                                  : _("not set: Laravel uses STARTTLS when the server offers it"));
    }
  else if (g_ascii_strcasecmp (encryption, "tls") == 0)
    {
      found_security (self, "MAIL_ENCRYPTION",
                      port == 465 ? _("tls on port 465: Laravel uses SSL/TLS") : NULL);
    }
  else if (g_ascii_strcasecmp (encryption, "ssl") == 0 && port == 465)
    {
      found_security (self, "MAIL_ENCRYPTION", NULL);
    }
  else
    {
      g_autofree char *shown = key_and_token (self, "MAIL_ENCRYPTION", encryption);

      found_security (self, "MAIL_ENCRYPTION", _("chosen by the port"));
      /* Translators: %s is "MAIL_ENCRYPTION=ssl" or similar, %u a port number. */
      add_ignored (self, _("%s: since Laravel 9 only port 465 or MAIL_SCHEME=smtps give SSL/TLS; "
                           "on port %u Laravel uses STARTTLS when the server offers it"),
                   shown, (guint) port);
    }
}

static gboolean
import_laravel (Import  *self,
                GError **error)
{
  const char *url = laravel_get (self, "MAIL_URL");
  const char *host = laravel_get (self, "MAIL_HOST");
  const char *port = laravel_get (self, "MAIL_PORT");
  const char *user = laravel_get (self, "MAIL_USERNAME");
  const char *password = laravel_get (self, "MAIL_PASSWORD");
  const char *encryption = laravel_get (self, "MAIL_ENCRYPTION");
  const char *scheme = laravel_get (self, "MAIL_SCHEME");
  const char *from = laravel_get (self, "MAIL_FROM_ADDRESS");
  const char *helo = laravel_get (self, "MAIL_EHLO_DOMAIN");
  const char *host_key = "MAIL_HOST";
  const char *user_key = "MAIL_USERNAME";
  const char *password_key = "MAIL_PASSWORD";
  const char *scheme_key = "MAIL_SCHEME";
  g_auto(Dsn) dsn = { 0 };
  gboolean port_given = FALSE;

  /* Laravel 11's MAIL_URL, when set, overrides the separate settings. */
  if (url != NULL)
    {
      g_autofree char *url_scheme = dsn_scheme (url);

      if (url_scheme == NULL || (!g_str_equal (url_scheme, "smtp") &&
                                 !g_str_equal (url_scheme, "smtps")) ||
          !dsn_parse (url, FALSE, &dsn))
        {
          add_ignored (self, "%s", _("MAIL_URL: not an smtp:// or smtps:// URL that SMTP Doctor "
                                     "can read; the other MAIL_* settings were used"));
          dsn_clear (&dsn);
        }
      else
        {
          if (dsn.host != NULL)
            {
              host = dsn.host;
              host_key = "MAIL_URL";
            }
          if (dsn.user != NULL)
            {
              user = dsn.user;
              user_key = "MAIL_URL";
            }
          if (dsn.password != NULL)
            {
              password = dsn.password;
              password_key = "MAIL_URL";
            }
          scheme = dsn.scheme;
          scheme_key = "MAIL_URL";
          ignore_unknown_params (self, "MAIL_URL", &dsn, NULL);
        }
    }

  if (host == NULL)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                           _("The Laravel settings in this file name no server: MAIL_HOST is not "
                             "set"));
      return FALSE;
    }

  if (password != NULL)
    set_secret (self, password_key, password);

  laravel_mailer (self);
  take_host (self, host_key, host);

  if (dsn.scheme != NULL && dsn.port > 0 && dsn.port <= 65535)
    {
      self->result->target->port = (guint16) dsn.port;
      add_found (self, "MAIL_URL", _("port %u"), (guint) dsn.port);
      port_given = TRUE;
    }
  else if (port != NULL)
    {
      port_given = take_port (self, "MAIL_PORT", port);
    }
  if (!port_given)
    {
      self->result->target->port = 587;
      add_found (self, "MAIL_PORT", "%s", _("not set: port 587, the default of config/mail.php "
                                            "up to Laravel 10 (2525 since Laravel 11)"));
    }

  laravel_security (self, scheme_key, scheme, encryption);

  if (user != NULL)
    take_user (self, user_key, user);
  else if (import_get (self, "MAIL_USERNAME") != NULL)
    add_found (self, "MAIL_USERNAME", "%s", _("null: no login"));
  found_secret (self, password_key);
  if (user == NULL && self->result->target->secret != NULL)
    add_ignored (self, "%s", _("MAIL_PASSWORD: there is no MAIL_USERNAME, so Laravel does not "
                               "log in"));

  if (from != NULL)
    take_from (self, "MAIL_FROM_ADDRESS", from);
  if (helo != NULL)
    take_helo (self, "MAIL_EHLO_DOMAIN", helo);

  return TRUE;
}

/* Symfony -------------------------------------------------------------------------------------- */

typedef enum
{
  LOGIN_USER_PASSWORD,   /* scheme://USER:PASSWORD@default */
  LOGIN_KEY,             /* scheme://KEY@default: a fixed user name, the key as the password */
  LOGIN_ID,              /* scheme://ID@default: the ID as the user name and the password */
} ProviderLogin;

/* Symfony's provider bridges that speak SMTP, with the servers their *SmtpTransport classes
 * connect to (symfony/mailer 6.4 and 7). A region option picks another host where the bridge
 * has one. */
static const struct
{
  const char     *scheme;          /* before "+smtp" */
  const char     *label;           /* the provider's name, not translated */
  const char     *host;            /* the host of default_region, or NULL: always by region */
  const char     *region_before;   /* a region's host is region_before + region + region_after */
  const char     *region_after;    /* or NULL: no regions */
  const char     *default_region;
  guint16         port;
  DoctorSecurity  security;        /* as the bridge sets it; see port_by_dsn */
  gboolean        port_from_dsn;   /* the bridge takes the DSN's port */
  gboolean        host_from_dsn;   /* a host other than "default" is used as given */
  ProviderLogin   login;
  const char     *fixed_user;
} smtp_providers[] = {
  { "sendgrid", "SendGrid", "smtp.sendgrid.net", "smtp.", ".sendgrid.net", "global",
    465, DOCTOR_SECURITY_TLS, FALSE, FALSE, LOGIN_KEY, "apikey" },
  { "mailgun", "Mailgun", "smtp.mailgun.org", "smtp.", ".mailgun.org", "us",
    587, DOCTOR_SECURITY_STARTTLS, FALSE, FALSE, LOGIN_USER_PASSWORD, NULL },
  { "ses", "Amazon SES", NULL, "email-smtp.", ".amazonaws.com", "eu-west-1",
    465, DOCTOR_SECURITY_TLS, TRUE, TRUE, LOGIN_USER_PASSWORD, NULL },
  { "postmark", "Postmark", "smtp.postmarkapp.com", NULL, NULL, NULL,
    587, DOCTOR_SECURITY_STARTTLS, FALSE, FALSE, LOGIN_ID, NULL },
  { "brevo", "Brevo", "smtp-relay.brevo.com", NULL, NULL, NULL,
    465, DOCTOR_SECURITY_TLS, TRUE, FALSE, LOGIN_USER_PASSWORD, NULL },
  { "sendinblue", "Sendinblue", "smtp-relay.sendinblue.com", NULL, NULL, NULL,
    465, DOCTOR_SECURITY_TLS, FALSE, FALSE, LOGIN_USER_PASSWORD, NULL },
  { "gmail", "Gmail", "smtp.gmail.com", NULL, NULL, NULL,
    465, DOCTOR_SECURITY_TLS, FALSE, FALSE, LOGIN_USER_PASSWORD, NULL },
};

static gboolean
is_region (const char *region)
{
  gsize length = strlen (region);

  if (length == 0 || length > 32)
    return FALSE;
  for (const char *p = region; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '-')
        return FALSE;
    }

  return TRUE;
}

static gboolean
symfony_provider (Import     *self,
                  guint       provider,
                  Dsn        *dsn,
                  GError    **error)
{
  DoctorTarget *target = self->result->target;
  const char *region = dsn_param (dsn, "region");
  const char *known[] = { "region", NULL };
  g_autofree char *host = NULL;
  g_autofree char *shown_host = NULL;
  const char *label = smtp_providers[provider].label;

  if (region != NULL && !is_region (region))
    {
      add_ignored (self, "%s", _("MAILER_DSN: the region option is not a region name; the "
                                 "default region is used"));
      region = NULL;
    }

  if (smtp_providers[provider].host_from_dsn && dsn->host != NULL &&
      !g_str_equal (dsn->host, "default"))
    host = g_strdup (dsn->host);
  else if (smtp_providers[provider].region_after != NULL && region != NULL &&
           !g_str_equal (region, smtp_providers[provider].default_region))
    host = g_strconcat (smtp_providers[provider].region_before, region,
                        smtp_providers[provider].region_after, NULL);
  else if (smtp_providers[provider].host != NULL)
    host = g_strdup (smtp_providers[provider].host);
  else
    host = g_strconcat (smtp_providers[provider].region_before,
                        smtp_providers[provider].default_region,
                        smtp_providers[provider].region_after, NULL);

  switch (smtp_providers[provider].login)
    {
    case LOGIN_KEY:
      if (dsn->user != NULL)
        set_secret (self, "MAILER_DSN", dsn->user);
      target->user = g_strdup (smtp_providers[provider].fixed_user);
      break;
    case LOGIN_ID:
      if (dsn->user != NULL && set_secret (self, "MAILER_DSN", dsn->user))
        target->user = g_strdup (dsn->user);
      break;
    case LOGIN_USER_PASSWORD:
    default:
      if (dsn->password != NULL)
        set_secret (self, "MAILER_DSN", dsn->password);
      target->user = g_strdup (dsn->user);
      break;
    }

  target->host = g_steal_pointer (&host);
  /* Translators: %s is the name of a provider, such as SendGrid. */
  add_found (self, "MAILER_DSN", _("%s over SMTP"), label);
  shown_host = display_value (self, target->host);
  add_found (self, "MAILER_DSN", _("server “%s”"), shown_host);

  target->port = smtp_providers[provider].port;
  if (smtp_providers[provider].port_from_dsn && dsn->port > 0)
    target->port = (guint16) dsn->port;
  add_found (self, "MAILER_DSN", _("port %u"), (guint) target->port);

  /* Brevo leaves TLS to the port, as plain smtp:// does. */
  if (smtp_providers[provider].port_from_dsn && !smtp_providers[provider].host_from_dsn)
    set_security (self, target->port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS);
  else
    set_security (self, smtp_providers[provider].security);
  found_security (self, "MAILER_DSN", NULL);

  if (target->user != NULL)
    {
      g_autofree char *shown = display_value (self, target->user);

      add_found (self, "MAILER_DSN", _("user name “%s”"), shown);
    }
  found_secret (self, "MAILER_DSN");
  ignore_unknown_params (self, "MAILER_DSN", dsn, known);

  return TRUE;
}

/* Symfony's EsmtpTransport: smtps:// is SSL/TLS; smtp:// goes by the port: SSL/TLS on 465, and on
 * other ports STARTTLS whenever the server offers it, unless auto_tls=false; smtp:// without a
 * port is SSL/TLS on 465, except for localhost, which gets port 25. */
static gboolean
symfony_smtp (Import  *self,
              Dsn     *dsn,
              GError **error)
{
  static const char * const known[] = {
    "verify_peer", "peer_fingerprint", "local_domain", "auto_tls", "require_tls",
    "restart_threshold", "restart_threshold_sleep", "ping_threshold", "max_per_second",
    "source_ip", NULL,
  };
  static const char * const tuning[] = {
    "restart_threshold", "restart_threshold_sleep", "ping_threshold", "max_per_second",
    "source_ip", NULL,
  };
  DoctorTarget *target = self->result->target;
  gboolean tls = g_str_equal (dsn->scheme, "smtps");
  const char *auto_tls = dsn_param (dsn, "auto_tls");
  const char *verify_peer = dsn_param (dsn, "verify_peer");
  const char *local_domain = dsn_param (dsn, "local_domain");
  const char *why = NULL;
  gboolean no_starttls = FALSE;

  if (dsn->host == NULL)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_INVALID,
                           _("MAILER_DSN names no server"));
      return FALSE;
    }
  if (dsn->port == 0)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_INVALID,
                           _("MAILER_DSN has port 0"));
      return FALSE;
    }

  if (dsn->password != NULL)
    set_secret (self, "MAILER_DSN", dsn->password);

  take_host (self, "MAILER_DSN", dsn->host);

  /* Symfony reads "auto_tls" with FILTER_VALIDATE_BOOL; an empty value keeps it on. */
  if (!tls && auto_tls != NULL && *auto_tls != '\0' && parse_bool (auto_tls) == BOOL_FALSE)
    no_starttls = TRUE;

  if (dsn->port > 0)
    {
      target->port = (guint16) dsn->port;
    }
  else if (tls || g_ascii_strcasecmp (dsn->host, "localhost") != 0)
    {
      target->port = 465;
      why = _("no port: Symfony uses SSL/TLS on port 465");
    }
  else
    {
      target->port = 25;
    }
  add_found (self, "MAILER_DSN", _("port %u"), (guint) target->port);

  if (no_starttls)
    {
      set_security (self, DOCTOR_SECURITY_NONE);
      why = _("auto_tls=false: no STARTTLS");
    }
  else if (tls || target->port == 465)
    {
      set_security (self, DOCTOR_SECURITY_TLS);
    }
  else
    {
      set_security (self, DOCTOR_SECURITY_STARTTLS);
      why = _("Symfony uses STARTTLS when the server offers it");
    }
  found_security (self, "MAILER_DSN", why);

  if (dsn->user != NULL)
    take_user (self, "MAILER_DSN", dsn->user);
  found_secret (self, "MAILER_DSN");
  if (dsn->plus_in_userinfo)
    add_ignored (self, "%s", _("MAILER_DSN: Symfony reads “+” in the user name or password as a "
                               "space; write %2B for a plus sign"));

  if (local_domain != NULL && *local_domain != '\0')
    take_helo (self, "MAILER_DSN", local_domain);

  if (verify_peer != NULL && *verify_peer != '\0' && parse_bool (verify_peer) == BOOL_FALSE)
    add_ignored (self, "%s", _("MAILER_DSN: verify_peer is off, so the app does not check the "
                               "server’s certificate; SMTP Doctor always checks it"));
  if (dsn_param (dsn, "peer_fingerprint") != NULL)
    add_ignored (self, "%s", _("MAILER_DSN: peer_fingerprint pins the certificate in the app; "
                               "SMTP Doctor checks it against the trusted authorities instead"));
  if (dsn_param (dsn, "require_tls") != NULL)
    add_ignored (self, "%s", _("MAILER_DSN: require_tls does not change the diagnosis, which "
                               "never sends a password unencrypted"));
  for (guint i = 0; tuning[i] != NULL; i++)
    {
      if (dsn_param (dsn, tuning[i]) != NULL)
        add_ignored (self, _("%s: the option “%s” does not matter for a diagnosis"),
                     "MAILER_DSN", tuning[i]);
    }
  ignore_unknown_params (self, "MAILER_DSN", dsn, known);

  return TRUE;
}

/* MAILER_DSN=smtp://user:password@host:port?options, a provider's scheme+smtp://…@default, or
 * failover(…)/roundrobin(…) of several, of which the first is imported. */
static gboolean
import_symfony (Import  *self,
                GError **error)
{
  const char *value = import_get (self, "MAILER_DSN");
  char *text = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *shown = NULL;
  g_auto(Dsn) dsn = { 0 };
  gboolean ok = FALSE;

  if (value == NULL || *value == '\0')
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                           _("MAILER_DSN is empty"));
      return FALSE;
    }

  text = g_strstrip (g_strdup (value));
  if (g_str_has_prefix (text, "failover(") || g_str_has_prefix (text, "roundrobin("))
    {
      const char *inner = strchr (text, '(') + 1;
      const char *stop = inner;
      char *first;

      while (g_ascii_isspace (*inner))
        inner++;
      stop = inner;
      while (*stop != '\0' && !g_ascii_isspace (*stop) && *stop != ')')
        stop++;
      first = g_strndup (inner, stop - inner);
      add_ignored (self, "%s", _("MAILER_DSN lists several transports; only the first one was "
                                 "imported"));
      doctor_secret_free (text);
      text = first;
    }

  scheme = dsn_scheme (text);
  if (scheme == NULL)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_INVALID,
                           _("MAILER_DSN is not a DSN such as smtp://user:password@host:port"));
      goto out;
    }
  shown = is_token (scheme) ? g_strdup (scheme) : g_strdup ("?");

  if (g_str_equal (scheme, "null"))
    {
      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                   _("MAILER_DSN is %s://: Symfony throws all mail away with this DSN; there is "
                     "no server to diagnose"), shown);
      goto out;
    }

  if (g_str_equal (scheme, "sendmail") || g_str_equal (scheme, "sendmail+smtp") ||
      g_str_equal (scheme, "native"))
    {
      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                   _("MAILER_DSN is %s://: Symfony hands mail to the local sendmail program, not "
                     "to an SMTP server"), shown);
      goto out;
    }

  if (!dsn_parse (text, TRUE, &dsn))
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_INVALID,
                           _("MAILER_DSN could not be read; characters such as @ : / ? # in the "
                             "user name or password must be percent-encoded"));
      goto out;
    }

  if (g_str_equal (scheme, "smtp") || g_str_equal (scheme, "smtps"))
    {
      ok = symfony_smtp (self, &dsn, error);
      goto out;
    }

  if (g_str_has_suffix (scheme, "+smtp") || g_str_has_suffix (scheme, "+smtps"))
    {
      gsize length = strchr (scheme, '+') - scheme;

      for (guint i = 0; i < G_N_ELEMENTS (smtp_providers); i++)
        {
          if (strlen (smtp_providers[i].scheme) == length &&
              strncmp (scheme, smtp_providers[i].scheme, length) == 0)
            {
              ok = symfony_provider (self, i, &dsn, error);
              goto out;
            }
        }

      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                   _("MAILER_DSN uses %s://, a provider whose SMTP server SMTP Doctor does not "
                     "know; write it as smtp://user:password@host:port"), shown);
      goto out;
    }

  g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
               _("MAILER_DSN uses %s://, which sends mail through a provider’s web API, not over "
                 "SMTP; its +smtp transport can be diagnosed"), shown);

out:
  doctor_secret_free (text);
  return ok;
}

/* Django --------------------------------------------------------------------------------------- */

/* django-environ's EMAIL_URL: smtp:// is unencrypted, smtps:// and smtp+tls:// mean
 * EMAIL_USE_TLS (STARTTLS), smtp+ssl:// means EMAIL_USE_SSL. */
static gboolean
django_url (Import      *self,
            const char  *url,
            GError     **error)
{
  DoctorTarget *target = self->result->target;
  g_autofree char *scheme = dsn_scheme (url);
  g_auto(Dsn) dsn = { 0 };
  const char *known[] = { "timeout", NULL };
  const char *timeout;

  if (scheme != NULL && (g_str_equal (scheme, "consolemail") ||
                         g_str_equal (scheme, "filemail") ||
                         g_str_equal (scheme, "memorymail") ||
                         g_str_equal (scheme, "dummymail")))
    {
      g_set_error (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                   _("EMAIL_URL is %s://: Django does not send mail over SMTP with it"), scheme);
      return FALSE;
    }

  if (scheme == NULL || !(g_str_equal (scheme, "smtp") || g_str_equal (scheme, "smtps") ||
                          g_str_equal (scheme, "smtp+tls") || g_str_equal (scheme, "smtp+ssl")) ||
      !dsn_parse (url, FALSE, &dsn) || dsn.host == NULL || dsn.port == 0)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_INVALID,
                           _("EMAIL_URL is not an smtp://, smtps://, smtp+tls:// or smtp+ssl:// "
                             "URL that SMTP Doctor can read"));
      return FALSE;
    }

  if (dsn.password != NULL)
    set_secret (self, "EMAIL_URL", dsn.password);
  take_host (self, "EMAIL_URL", dsn.host);
  target->port = dsn.port > 0 ? (guint16) dsn.port : 25;
  add_found (self, "EMAIL_URL", _("port %u"), (guint) target->port);
  if (g_str_equal (scheme, "smtp+ssl"))
    set_security (self, DOCTOR_SECURITY_TLS);
  else if (g_str_equal (scheme, "smtp"))
    set_security (self, DOCTOR_SECURITY_NONE);
  else
    set_security (self, DOCTOR_SECURITY_STARTTLS);
  found_security (self, "EMAIL_URL",
                  g_str_equal (scheme, "smtps") ? _("smtps:// means STARTTLS to django-environ")
                                                : NULL);
  if (dsn.user != NULL && dsn.password != NULL)
    take_user (self, "EMAIL_URL", dsn.user);
  found_secret (self, "EMAIL_URL");
  if ((timeout = dsn_param (&dsn, "timeout")) != NULL)
    take_timeout (self, "EMAIL_URL", timeout, TRUE);
  ignore_unknown_params (self, "EMAIL_URL", &dsn, known);

  return TRUE;
}

/* Django's SMTP backend uses no encryption unless EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL
 * (SSL/TLS) is true, port 25 by default, and logs in only when both the user and the password
 * are non-empty. The settings come from settings.py; the names below are the setting names,
 * which is what apps almost always call their variables. */
static gboolean
import_django (Import  *self,
               GError **error)
{
  DoctorTarget *target = self->result->target;
  const char *host = import_get_set (self, "EMAIL_HOST");
  const char *url = import_get_set (self, "EMAIL_URL");
  const char *port;
  const char *user;
  const char *password;
  const char *timeout;
  const char *from;
  const char *backend = import_get_set (self, "EMAIL_BACKEND");
  Bool use_tls;
  Bool use_ssl;
  gboolean port_given = FALSE;

  if (backend != NULL && strstr (backend, "smtp") == NULL)
    {
      g_autofree char *shown = display_value (self, backend);

      add_ignored (self, _("EMAIL_BACKEND=%s: Django does not send mail over SMTP with this "
                           "backend"), shown);
    }

  if (host == NULL && url != NULL)
    {
      if (!django_url (self, url, error))
        return FALSE;
      if ((from = import_get_set (self, "DEFAULT_FROM_EMAIL")) != NULL)
        take_from (self, "DEFAULT_FROM_EMAIL", from);
      return TRUE;
    }

  if (host == NULL)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                           _("The Django settings in this file name no server: EMAIL_HOST is not "
                             "set"));
      return FALSE;
    }
  if (url != NULL)
    add_ignored (self, "%s", _("EMAIL_URL: not used, because EMAIL_HOST is set too"));

  port = import_get_set (self, "EMAIL_PORT");
  user = import_get_set (self, "EMAIL_HOST_USER");
  password = import_get_set (self, "EMAIL_HOST_PASSWORD");
  timeout = import_get_set (self, "EMAIL_TIMEOUT");
  from = import_get_set (self, "DEFAULT_FROM_EMAIL");
  use_tls = import_get_bool (self, "EMAIL_USE_TLS");
  use_ssl = import_get_bool (self, "EMAIL_USE_SSL");

  if (password != NULL && user != NULL)
    set_secret (self, "EMAIL_HOST_PASSWORD", password);

  take_host (self, "EMAIL_HOST", host);
  if (port != NULL)
    port_given = take_port (self, "EMAIL_PORT", port);
  if (!port_given)
    {
      target->port = 25;
      add_found (self, "EMAIL_PORT", "%s", _("not set: port 25, Django’s default"));
    }

  if (use_tls == BOOL_TRUE && use_ssl == BOOL_TRUE)
    {
      /* Django raises ValueError ("EMAIL_USE_TLS/EMAIL_USE_SSL are mutually exclusive") and
       * sends nothing. The port says which one was meant. */
      set_security (self, target->port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS);
      found_security (self, target->port == 465 ? "EMAIL_USE_SSL" : "EMAIL_USE_TLS",
                      _("chosen by the port"));
      add_ignored (self, "%s", _("EMAIL_USE_TLS and EMAIL_USE_SSL are both true: Django refuses "
                                 "to send any mail (“mutually exclusive”); set only one of them"));
    }
  else if (use_ssl == BOOL_TRUE)
    {
      set_security (self, DOCTOR_SECURITY_TLS);
      found_security (self, "EMAIL_USE_SSL", NULL);
    }
  else if (use_tls == BOOL_TRUE)
    {
      set_security (self, DOCTOR_SECURITY_STARTTLS);
      found_security (self, "EMAIL_USE_TLS", NULL);
    }
  else
    {
      set_security (self, DOCTOR_SECURITY_NONE);
      found_security (self, "EMAIL_USE_TLS",
                      _("neither EMAIL_USE_TLS nor EMAIL_USE_SSL is true, Django’s default"));
    }

  if (user != NULL && password != NULL)
    take_user (self, "EMAIL_HOST_USER", user);
  else if (user != NULL)
    add_ignored (self, "%s", _("EMAIL_HOST_USER: EMAIL_HOST_PASSWORD is empty, so Django does "
                               "not log in"));
  else if (password != NULL)
    add_ignored (self, "%s", _("EMAIL_HOST_PASSWORD: EMAIL_HOST_USER is empty, so Django does "
                               "not log in"));
  found_secret (self, "EMAIL_HOST_PASSWORD");

  if (timeout != NULL && g_ascii_strcasecmp (timeout, "none") != 0)
    take_timeout (self, "EMAIL_TIMEOUT", timeout, TRUE);
  if (from != NULL)
    take_from (self, "DEFAULT_FROM_EMAIL", from);

  return TRUE;
}

/* Khadem --------------------------------------------------------------------------------------- */

/* Khadem's config/mail: MAIL_DRIVER (default log), SMTP_HOST, SMTP_PORT (default 2525),
 * SMTP_USERNAME, SMTP_PASSWORD, SMTP_ENCRYPTION (default tls) and SMTP_TIMEOUT in whole
 * seconds (default 30; its SmtpTransport makes a Duration(seconds:) of it). The transport
 * compares the encryption exactly: "ssl" is SSL/TLS, "tls" STARTTLS (required), anything else
 * no encryption. SMTP Doctor also reads "starttls" and other spellings as meant, and says what
 * Khadem would do with them. */
static gboolean
import_khadem (Import  *self,
               GError **error)
{
  DoctorTarget *target = self->result->target;
  const char *host = import_get_set (self, "SMTP_HOST");
  const char *port = import_get_set (self, "SMTP_PORT");
  const char *user = import_get_set (self, "SMTP_USERNAME");
  const char *password = import_get_set (self, "SMTP_PASSWORD");
  const char *encryption = import_get_set (self, "SMTP_ENCRYPTION");
  const char *timeout = import_get_set (self, "SMTP_TIMEOUT");
  const char *driver = import_get_set (self, "MAIL_DRIVER");
  const char *from = import_get_set (self, "MAIL_FROM_ADDRESS");
  gboolean port_given = FALSE;

  if (host == NULL)
    {
      g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                           _("The Khadem settings in this file name no server: SMTP_HOST is not "
                             "set"));
      return FALSE;
    }

  if (password != NULL)
    set_secret (self, "SMTP_PASSWORD", password);

  if (driver == NULL)
    add_ignored (self, "%s", _("MAIL_DRIVER is not set: Khadem’s default mailer is log, which "
                               "does not send mail"));
  else if (g_ascii_strcasecmp (driver, "smtp") == 0)
    add_found (self, "MAIL_DRIVER", "%s", _("mail is sent over SMTP"));
  else
    {
      g_autofree char *shown = key_and_token (self, "MAIL_DRIVER", driver);

      add_ignored (self, _("%s: Khadem does not send mail over SMTP with this mailer"), shown);
    }

  take_host (self, "SMTP_HOST", host);
  if (port != NULL)
    port_given = take_port (self, "SMTP_PORT", port);
  if (!port_given)
    {
      target->port = 2525;
      add_found (self, "SMTP_PORT", "%s", _("not set: port 2525, Khadem’s default"));
    }

  if (encryption == NULL)
    {
      set_security (self, DOCTOR_SECURITY_STARTTLS);
      found_security (self, "SMTP_ENCRYPTION", _("not set: Khadem’s default is tls"));
    }
  else
    {
      gboolean exact = g_str_equal (encryption, "tls") || g_str_equal (encryption, "ssl") ||
                       g_str_equal (encryption, "none");
      DoctorSecurity security;

      if (g_ascii_strcasecmp (encryption, "tls") == 0 ||
          g_ascii_strcasecmp (encryption, "starttls") == 0)
        security = DOCTOR_SECURITY_STARTTLS;
      else if (g_ascii_strcasecmp (encryption, "ssl") == 0)
        security = DOCTOR_SECURITY_TLS;
      else
        security = DOCTOR_SECURITY_NONE;

      set_security (self, security);
      found_security (self, "SMTP_ENCRYPTION", NULL);
      if (!exact)
        {
          g_autofree char *shown = key_and_token (self, "SMTP_ENCRYPTION", encryption);

          add_ignored (self, _("%s: Khadem’s SMTP transport knows only “tls” (STARTTLS) and “ssl” "
                               "(SSL/TLS), written so; with this value it would connect "
                               "without encryption"), shown);
        }
    }

  if (user != NULL)
    take_user (self, "SMTP_USERNAME", user);
  found_secret (self, "SMTP_PASSWORD");
  if (timeout != NULL)
    take_timeout (self, "SMTP_TIMEOUT", timeout, FALSE);
  if (from != NULL)
    take_from (self, "MAIL_FROM_ADDRESS", from);

  return TRUE;
}

/* Nodemailer ----------------------------------------------------------------------------------- */

/* Nodemailer's createTransport() takes an smtp:// or smtps:// URL (SMTP_URL), or options that
 * apps fill from SMTP_HOST, SMTP_PORT, SMTP_SECURE, SMTP_USER and SMTP_PASS (SMTP_USERNAME and
 * SMTP_PASSWORD are read as well). secure: true is SSL/TLS; false is a plain connection that
 * Nodemailer upgrades with STARTTLS when the server offers it, unless ignoreTLS. When
 * SMTP_SECURE is not set, SMTP Doctor goes by the port (SSL/TLS on 465) as most apps' code does
 * ("secure: port == 465"); Nodemailer itself would stay plain on 465 and fail. */
static gboolean
import_nodemailer (Import  *self,
                   GError **error)
{
  DoctorTarget *target = self->result->target;
  const char *url = import_get_set (self, "SMTP_URL");
  const char *host;
  const char *port;
  const char *user_key = "SMTP_USER";
  const char *password_key = "SMTP_PASS";
  const char *user;
  const char *password;
  static const char * const from_keys[] = { "SMTP_FROM", "MAIL_FROM", "EMAIL_FROM" };
  Bool secure;
  gboolean port_given = FALSE;

  if (url != NULL)
    {
      g_autofree char *scheme = dsn_scheme (url);
      g_auto(Dsn) dsn = { 0 };
      const char *known[] = { "secure", "ignoreTLS", NULL };
      Bool ignore_tls;

      if (scheme == NULL || !(g_str_equal (scheme, "smtp") || g_str_equal (scheme, "smtps")) ||
          !dsn_parse (url, FALSE, &dsn) || dsn.host == NULL || dsn.port == 0)
        {
          g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_INVALID,
                               _("SMTP_URL is not an smtp:// or smtps:// URL that SMTP Doctor can "
                                 "read"));
          return FALSE;
        }

      secure = g_str_equal (scheme, "smtps") ? BOOL_TRUE : parse_bool (dsn_param (&dsn, "secure"));
      ignore_tls = parse_bool (dsn_param (&dsn, "ignoreTLS"));
      if (dsn.password != NULL)
        set_secret (self, "SMTP_URL", dsn.password);
      take_host (self, "SMTP_URL", dsn.host);
      target->port = dsn.port > 0 ? (guint16) dsn.port : secure == BOOL_TRUE ? 465 : 587;
      add_found (self, "SMTP_URL", _("port %u"), (guint) target->port);
      if (secure == BOOL_TRUE)
        set_security (self, DOCTOR_SECURITY_TLS);
      else if (ignore_tls == BOOL_TRUE)
        set_security (self, DOCTOR_SECURITY_NONE);
      else
        set_security (self, DOCTOR_SECURITY_STARTTLS);
      found_security (self, "SMTP_URL", NULL);
      if (dsn.user != NULL)
        take_user (self, "SMTP_URL", dsn.user);
      found_secret (self, "SMTP_URL");
      ignore_unknown_params (self, "SMTP_URL", &dsn, known);
    }
  else
    {
      host = import_get_set (self, "SMTP_HOST");
      if (host == NULL)
        {
          g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SERVER,
                               _("The SMTP_* settings in this file name no server: SMTP_HOST is "
                                 "not set"));
          return FALSE;
        }

      port = import_get_set (self, "SMTP_PORT");
      user = import_get_set (self, user_key);
      if (user == NULL)
        {
          user_key = "SMTP_USERNAME";
          user = import_get_set (self, user_key);
        }
      password = import_get_set (self, password_key);
      if (password == NULL)
        {
          password_key = "SMTP_PASSWORD";
          password = import_get_set (self, password_key);
        }
      secure = import_get_bool (self, "SMTP_SECURE");

      if (password != NULL)
        set_secret (self, password_key, password);
      take_host (self, "SMTP_HOST", host);
      if (port != NULL)
        port_given = take_port (self, "SMTP_PORT", port);
      if (!port_given)
        {
          target->port = secure == BOOL_TRUE ? 465 : 587;
          add_found (self, "SMTP_PORT", _("not set: port %u, Nodemailer’s default"),
                     (guint) target->port);
        }

      if (secure == BOOL_TRUE)
        set_security (self, DOCTOR_SECURITY_TLS);
      else if (secure == BOOL_FALSE)
        set_security (self, DOCTOR_SECURITY_STARTTLS);
      else
        set_security (self, target->port == 465 ? DOCTOR_SECURITY_TLS : DOCTOR_SECURITY_STARTTLS);
      found_security (self, "SMTP_SECURE",
                      secure == BOOL_FALSE ? _("false: STARTTLS when the server offers it")
                      : secure == BOOL_UNSET ? _("not set: chosen by the port") : NULL);

      if (user != NULL)
        take_user (self, user_key, user);
      found_secret (self, password_key);
    }

  for (guint i = 0; i < G_N_ELEMENTS (from_keys); i++)
    {
      const char *from = import_get_set (self, from_keys[i]);

      if (from != NULL)
        {
          take_from (self, from_keys[i], from);
          break;
        }
    }

  return TRUE;
}

/* Detection ------------------------------------------------------------------------------------ */

typedef gboolean (*ImportFunc) (Import  *self,
                                GError **error);

static const ImportFunc import_funcs[DOCTOR_ENV_N_FRAMEWORKS] = {
  import_laravel, import_symfony, import_django, import_khadem, import_nodemailer,
};

static gboolean
has_value (DoctorEnvFile *env,
           const char    *key)
{
  const char *value = doctor_env_file_get (env, key);

  return value != NULL && *value != '\0';
}

static gboolean
is_mail_key (const char *key)
{
  return g_str_has_prefix (key, "MAIL_") || g_str_has_prefix (key, "MAILER_") ||
         g_str_has_prefix (key, "EMAIL_") || g_str_has_prefix (key, "SMTP_") ||
         g_str_equal (key, "DEFAULT_FROM_EMAIL") || g_str_equal (key, "SERVER_EMAIL");
}

/* The SMTP_* keys are Khadem's or Nodemailer-style: whichever has more of its own. SMTP_PASSWORD
 * does not count: Node and Python apps use it as often as Khadem does. A file with only
 * SMTP_HOST and SMTP_PORT is read as Khadem's. */
static DoctorEnvFramework
smtp_framework (DoctorEnvFile *env)
{
  static const char * const khadem[] = {
    "SMTP_USERNAME", "SMTP_ENCRYPTION", "SMTP_TIMEOUT",
  };
  static const char * const nodemailer[] = {
    "SMTP_USER", "SMTP_PASS", "SMTP_SECURE",
  };
  guint k = 0, n = 0;

  if (doctor_env_file_get (env, "SMTP_URL") != NULL)
    return DOCTOR_ENV_FRAMEWORK_NODEMAILER;

  for (guint i = 0; i < G_N_ELEMENTS (khadem); i++)
    k += doctor_env_file_get (env, khadem[i]) != NULL;
  for (guint i = 0; i < G_N_ELEMENTS (nodemailer); i++)
    n += doctor_env_file_get (env, nodemailer[i]) != NULL;

  return n > k ? DOCTOR_ENV_FRAMEWORK_NODEMAILER : DOCTOR_ENV_FRAMEWORK_KHADEM;
}

/* Whether a framework's settings name a server: that decides which one is used. */
static gboolean
names_server (DoctorEnvFile      *env,
              DoctorEnvFramework  framework)
{
  switch (framework)
    {
    case DOCTOR_ENV_FRAMEWORK_LARAVEL:
      return has_value (env, "MAIL_HOST") || has_value (env, "MAIL_URL");
    case DOCTOR_ENV_FRAMEWORK_SYMFONY:
      return has_value (env, "MAILER_DSN");
    case DOCTOR_ENV_FRAMEWORK_DJANGO:
      return has_value (env, "EMAIL_HOST") || has_value (env, "EMAIL_URL");
    case DOCTOR_ENV_FRAMEWORK_KHADEM:
    case DOCTOR_ENV_FRAMEWORK_NODEMAILER:
      return (has_value (env, "SMTP_HOST") || has_value (env, "SMTP_URL")) &&
             smtp_framework (env) == framework;
    default:
      g_return_val_if_reached (FALSE);
    }
}

/* Whether the file has any key of a framework: for the error when none names a server. */
static gboolean
has_keys_of (DoctorEnvFile      *env,
             DoctorEnvFramework  framework)
{
  const char *prefix;

  switch (framework)
    {
    case DOCTOR_ENV_FRAMEWORK_LARAVEL:
      prefix = "MAIL_";
      break;
    case DOCTOR_ENV_FRAMEWORK_SYMFONY:
      prefix = "MAILER_";
      break;
    case DOCTOR_ENV_FRAMEWORK_DJANGO:
      if (doctor_env_file_get (env, "DEFAULT_FROM_EMAIL") != NULL)
        return TRUE;
      prefix = "EMAIL_";
      break;
    case DOCTOR_ENV_FRAMEWORK_KHADEM:
    case DOCTOR_ENV_FRAMEWORK_NODEMAILER:
      if (smtp_framework (env) != framework)
        return FALSE;
      prefix = "SMTP_";
      break;
    default:
      g_return_val_if_reached (FALSE);
    }

  for (const char * const *key = doctor_env_file_get_keys (env); *key != NULL; key++)
    {
      if (g_str_has_prefix (*key, prefix))
        return TRUE;
    }

  return FALSE;
}

/* Lists the keys the import did not read, so that the user sees what the file holds that the
 * form will not show. Keys that have nothing to do with mail are only counted. */
static void
list_unused (Import *self)
{
  const char *label = doctor_env_framework_get_label (self->result->framework);
  guint others = 0;

  for (const char * const *key = doctor_env_file_get_keys (self->env); *key != NULL; key++)
    {
      if (g_hash_table_contains (self->used, *key))
        continue;

      if (!is_mail_key (*key))
        others++;
      else if (g_str_equal (*key, "MAIL_FROM_NAME"))
        add_ignored (self, _("%s: the sender’s display name does not matter for a diagnosis"),
                     *key);
      else
        {
          /* Translators: %s is a key such as EMAIL_HOST, then a framework such as Laravel. */
          add_ignored (self, _("%s: not used; the %s settings of this file were imported"),
                       *key, label);
        }
    }

  if (others > 0)
    add_ignored (self, g_dngettext (GETTEXT_PACKAGE, "%u other key is not about mail",
                                    "%u other keys are not about mail", others), others);
}

/* A last check that nothing shown contains the password, whatever path a value took. */
static void
hide_secret (Import    *self,
             GPtrArray *list)
{
  for (guint i = 0; i < list->len; i++)
    {
      char *text = g_ptr_array_index (list, i);

      if (contains_secret (self, text))
        {
          g_free (text);
          g_ptr_array_index (list, i) = g_strdup (_("(a line that would show the password was "
                                                    "left out)"));
        }
    }
}

DoctorEnvImport *
doctor_env_import (DoctorEnvFile  *env,
                   GError        **error)
{
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) first_error = NULL;
  DoctorEnvImport *result;
  Import self = { 0 };
  gboolean done = FALSE;

  g_return_val_if_fail (env != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  for (guint i = 0; i < DOCTOR_ENV_N_FRAMEWORKS && !done; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (!names_server (env, i))
        continue;

      import_init (&self, env);
      self.result->framework = i;
      if (import_funcs[i] (&self, &local_error))
        {
          done = TRUE;
          break;
        }

      /* Translators: %s is a framework such as Symfony, then why its settings were not used. */
      g_ptr_array_add (failures, g_strdup_printf (_("The %s settings were not used: %s"),
                                                  doctor_env_framework_get_label (i),
                                                  local_error->message));
      if (first_error == NULL)
        first_error = g_steal_pointer (&local_error);
      import_clear (&self);
    }

  if (!done && first_error == NULL)
    {
      /* No framework names a server: the first whose keys are there says what is missing. */
      for (guint i = 0; i < DOCTOR_ENV_N_FRAMEWORKS; i++)
        {
          if (!has_keys_of (env, i))
            continue;

          import_init (&self, env);
          self.result->framework = i;
          done = import_funcs[i] (&self, &first_error);
          if (!done)
            import_clear (&self);
          break;
        }
    }

  if (!done)
    {
      if (first_error != NULL)
        g_propagate_error (error, g_steal_pointer (&first_error));
      else
        g_set_error_literal (error, DOCTOR_ENV_ERROR, DOCTOR_ENV_ERROR_NO_SETTINGS,
                             _("No mail settings found in this file (looked for MAIL_*, "
                               "MAILER_DSN, EMAIL_*, SMTP_*)"));
      return NULL;
    }

  for (guint i = 0; i < failures->len; i++)
    g_ptr_array_add (self.result->ignored, g_strdup (g_ptr_array_index (failures, i)));
  list_unused (&self);
  hide_secret (&self, self.result->found);
  hide_secret (&self, self.result->ignored);

  result = g_steal_pointer (&self.result);
  import_clear (&self);
  return result;
}

/* Export --------------------------------------------------------------------------------------- */

/* Writes KEY=value so that every framework's reader gives the value back: bare when it is made
 * of characters that no reader treats specially; in single quotes (literal everywhere) when it
 * has no quote, backslash or line break; otherwise in double quotes with \\ \" \$ \n \r \t
 * escaped, which phpdotenv, Symfony Dotenv and this parser read back (python-dotenv keeps \$ as
 * written, a value that needs all of this is rare). */
static void
append_assignment (GString    *out,
                   const char *key,
                   const char *value)
{
  gboolean bare = *value != '\0';
  gboolean single = TRUE;

  for (const char *p = value; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && strchr ("_.@:/%+,=?&~-", *p) == NULL)
        bare = FALSE;
      if (*p == '\'' || *p == '\\' || *p == '\n' || *p == '\r')
        single = FALSE;
    }

  g_string_append (out, key);
  g_string_append_c (out, '=');

  if (bare)
    {
      g_string_append (out, value);
    }
  else if (single)
    {
      g_string_append_c (out, '\'');
      g_string_append (out, value);
      g_string_append_c (out, '\'');
    }
  else
    {
      g_string_append_c (out, '"');
      for (const char *p = value; *p != '\0'; p++)
        {
          switch (*p)
            {
            case '\\': g_string_append (out, "\\\\"); break;
            case '"':  g_string_append (out, "\\\""); break;
            case '$':  g_string_append (out, "\\$"); break;
            case '\n': g_string_append (out, "\\n"); break;
            case '\r': g_string_append (out, "\\r"); break;
            case '\t': g_string_append (out, "\\t"); break;
            default:   g_string_append_c (out, *p); break;
            }
        }
      g_string_append_c (out, '"');
    }

  g_string_append_c (out, '\n');
}

static gsize
length_or_zero (const char *text)
{
  return text != NULL ? strlen (text) : 0;
}

static void
append_port (GString    *out,
             const char *key,
             guint16     port)
{
  g_string_append_printf (out, "%s=%u\n", key, (guint) port);
}

static void
export_laravel (GString            *out,
                const DoctorTarget *target,
                const char         *password)
{
  guint16 port = doctor_target_get_port (target);

  g_string_append (out, "MAIL_MAILER=smtp\n");
  /* MAIL_SCHEME only where MAIL_ENCRYPTION cannot say it: SSL/TLS on a port other than 465
   * needs Laravel 11. */
  if (target->security == DOCTOR_SECURITY_TLS && port != 465)
    g_string_append (out, "MAIL_SCHEME=smtps\n");
  append_assignment (out, "MAIL_HOST", target->host);
  append_port (out, "MAIL_PORT", port);
  if (target->user != NULL)
    append_assignment (out, "MAIL_USERNAME", target->user);
  else
    g_string_append (out, "MAIL_USERNAME=null\n");
  if (password != NULL)
    append_assignment (out, "MAIL_PASSWORD", password);
  else
    g_string_append (out, "MAIL_PASSWORD=null\n");
  switch (target->security)
    {
    case DOCTOR_SECURITY_TLS:
      g_string_append (out, "MAIL_ENCRYPTION=ssl\n");
      break;
    case DOCTOR_SECURITY_NONE:
      /* Laravel still switches to STARTTLS when the server offers it. */
      g_string_append (out, "MAIL_ENCRYPTION=null\n");
      break;
    case DOCTOR_SECURITY_STARTTLS:
    default:
      g_string_append (out, "MAIL_ENCRYPTION=tls\n");
      break;
    }
  if (target->helo_name != NULL)
    append_assignment (out, "MAIL_EHLO_DOMAIN", target->helo_name);
  if (target->mail_from != NULL)
    append_assignment (out, "MAIL_FROM_ADDRESS", target->mail_from);
}

static void
export_django (GString            *out,
               const DoctorTarget *target,
               const char         *password)
{
  append_assignment (out, "EMAIL_HOST", target->host);
  append_port (out, "EMAIL_PORT", doctor_target_get_port (target));
  if (target->user != NULL)
    append_assignment (out, "EMAIL_HOST_USER", target->user);
  if (password != NULL)
    append_assignment (out, "EMAIL_HOST_PASSWORD", password);
  g_string_append_printf (out, "EMAIL_USE_TLS=%s\n",
                          target->security == DOCTOR_SECURITY_STARTTLS ? "True" : "False");
  g_string_append_printf (out, "EMAIL_USE_SSL=%s\n",
                          target->security == DOCTOR_SECURITY_TLS ? "True" : "False");
  if (target->timeout_ms != 0)
    g_string_append_printf (out, "EMAIL_TIMEOUT=%u\n", (target->timeout_ms + 999) / 1000);
  if (target->mail_from != NULL)
    append_assignment (out, "DEFAULT_FROM_EMAIL", target->mail_from);
}

static void
append_escaped (GString    *out,
                const char *text)
{
  char *escaped = g_uri_escape_string (text, NULL, FALSE);

  g_string_append (out, escaped);
  doctor_secret_free (escaped);
}

static void
export_symfony (GString            *out,
                const DoctorTarget *target,
                const char         *password,
                const char         *dsn_password)
{
  GString *dsn = g_string_sized_new (out->allocated_len);
  guint16 port = doctor_target_get_port (target);
  gboolean query = FALSE;

  g_string_append (dsn, target->security == DOCTOR_SECURITY_TLS ? "smtps://" : "smtp://");
  if (target->user != NULL || password != NULL)
    {
      append_escaped (dsn, target->user != NULL ? target->user : "");
      g_string_append_c (dsn, ':');
      append_escaped (dsn, dsn_password);
      g_string_append_c (dsn, '@');
    }
  if (strchr (target->host, ':') != NULL)
    g_string_append_printf (dsn, "[%s]", target->host);
  else
    append_escaped (dsn, target->host);
  /* Always with the port: without one, Symfony would pick 465 or 25 itself. */
  g_string_append_printf (dsn, ":%u", (guint) port);
  if (target->security == DOCTOR_SECURITY_NONE)
    {
      g_string_append (dsn, "?auto_tls=false");
      query = TRUE;
    }
  if (target->helo_name != NULL)
    {
      g_string_append (dsn, query ? "&local_domain=" : "?local_domain=");
      append_escaped (dsn, target->helo_name);
    }

  append_assignment (out, "MAILER_DSN", dsn->str);
  explicit_bzero (dsn->str, dsn->allocated_len);
  g_string_free (dsn, TRUE);
}

static void
export_khadem (GString            *out,
               const DoctorTarget *target,
               const char         *password)
{
  g_string_append (out, "MAIL_DRIVER=smtp\n");
  append_assignment (out, "SMTP_HOST", target->host);
  append_port (out, "SMTP_PORT", doctor_target_get_port (target));
  if (target->user != NULL)
    append_assignment (out, "SMTP_USERNAME", target->user);
  if (password != NULL)
    append_assignment (out, "SMTP_PASSWORD", password);
  g_string_append_printf (out, "SMTP_ENCRYPTION=%s\n",
                          target->security == DOCTOR_SECURITY_TLS ? "ssl"
                          : target->security == DOCTOR_SECURITY_NONE ? "none" : "tls");
  if (target->timeout_ms != 0)
    g_string_append_printf (out, "SMTP_TIMEOUT=%u\n", (target->timeout_ms + 999) / 1000);
  if (target->mail_from != NULL)
    append_assignment (out, "MAIL_FROM_ADDRESS", target->mail_from);
}

static void
export_nodemailer (GString            *out,
                   const DoctorTarget *target,
                   const char         *password)
{
  append_assignment (out, "SMTP_HOST", target->host);
  append_port (out, "SMTP_PORT", doctor_target_get_port (target));
  /* false is STARTTLS when the server offers it; Nodemailer has no setting for "never". */
  g_string_append_printf (out, "SMTP_SECURE=%s\n",
                          target->security == DOCTOR_SECURITY_TLS ? "true" : "false");
  if (target->user != NULL)
    append_assignment (out, "SMTP_USER", target->user);
  if (password != NULL)
    append_assignment (out, "SMTP_PASS", password);
  if (target->mail_from != NULL)
    append_assignment (out, "SMTP_FROM", target->mail_from);
}

/* The lines a framework reads for this target; the password is a placeholder unless
 * include_password. NONE cannot be said to Laravel or Nodemailer, which always take STARTTLS
 * when the server offers it; they get their "no encryption asked" setting. When the result
 * holds the password, free it with doctor_secret_free(). */
char *
doctor_env_export (const DoctorTarget *target,
                   DoctorEnvFramework  framework,
                   gboolean            include_password)
{
  const char *password = NULL;
  const char *dsn_password = NULL;
  GString *out;
  gsize size;

  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (target->host != NULL, NULL);
  g_return_val_if_fail ((guint) framework < DOCTOR_ENV_N_FRAMEWORKS, NULL);

  if (target->user != NULL || target->secret != NULL)
    {
      if (include_password && target->secret != NULL)
        {
          password = target->secret;
          dsn_password = target->secret;
        }
      else
        {
          password = DOCTOR_ENV_PASSWORD_PLACEHOLDER;
          dsn_password = DOCTOR_ENV_DSN_PASSWORD_PLACEHOLDER;
        }
    }

  /* Big enough never to grow: a reallocation would leave a copy of the password behind. Every
   * byte of a value can become three (percent-encoding) or two (escaping). */
  size = 1024 + 3 * (length_or_zero (target->host) + length_or_zero (target->user) +
                     length_or_zero (password) + length_or_zero (target->helo_name) +
                     length_or_zero (target->mail_from));
  out = g_string_sized_new (size);

  switch (framework)
    {
    case DOCTOR_ENV_FRAMEWORK_LARAVEL:
      export_laravel (out, target, password);
      break;
    case DOCTOR_ENV_FRAMEWORK_SYMFONY:
      export_symfony (out, target, password, dsn_password);
      break;
    case DOCTOR_ENV_FRAMEWORK_DJANGO:
      export_django (out, target, password);
      break;
    case DOCTOR_ENV_FRAMEWORK_KHADEM:
      export_khadem (out, target, password);
      break;
    case DOCTOR_ENV_FRAMEWORK_NODEMAILER:
    default:
      export_nodemailer (out, target, password);
      break;
    }

  return g_string_free (out, FALSE);
}
