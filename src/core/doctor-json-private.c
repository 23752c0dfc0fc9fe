/* doctor-json-private.c: the lexical scan of JSON text that runs before json-glib parses it.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * See doctor-json-private.h for why. The scan is one pass over the bytes with no recursion, so
 * its cost is linear and its stack use constant whatever the input; in strict mode it keeps a
 * set of keys per open object, at most max_depth of them.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "doctor-json-private.h"

typedef struct
{
  const char           *data;
  gsize                 length;
  guint                 max_depth;
  DoctorJsonScanFlags   flags;
  GQuark                domain;
  int                   syntax_code;
  int                   too_deep_code;
} Scan;

static gboolean
syntax_error (const Scan  *scan,
              GError     **error,
              gsize        offset,
              const char  *what)
{
  g_set_error (error, scan->domain, scan->syntax_code,
               "Not strict JSON at byte %" G_GSIZE_FORMAT ": %s", offset, what);
  return FALSE;
}

static gboolean
is_json_space (guchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The value of the four hexadecimal digits at data[at], which the caller has checked. */
static gunichar
hex4 (const char *data,
      gsize       at)
{
  gunichar value = 0;

  for (guint k = 0; k < 4; k++)
    value = value * 16 + g_ascii_xdigit_value (data[at + k]);

  return value;
}

static gboolean
is_hex4 (const Scan *scan,
         gsize       at)
{
  if (at + 4 > scan->length)
    return FALSE;

  for (guint k = 0; k < 4; k++)
    {
      if (!g_ascii_isxdigit (scan->data[at + k]))
        return FALSE;
    }

  return TRUE;
}

/* Checks the escape sequence that starts with the backslash at *i and moves *i to its last
 * byte. "\u0000" is refused too: it would cut the C string json-glib hands out. In strict mode
 * a surrogate escape must be a high half followed at once by a low half.
 */
static gboolean
scan_escape (const Scan  *scan,
             gsize       *i,
             GError     **error)
{
  const char *data = scan->data;
  gsize length = scan->length;
  gsize start = *i;
  gunichar value;
  guchar c;

  if (start + 1 >= length)
    return syntax_error (scan, error, start, "the text ends inside an escape sequence");

  c = data[start + 1];
  if (c != '\0' && strchr ("\"\\/bfnrt", c) != NULL)
    {
      *i = start + 1;
      return TRUE;
    }

  if (c != 'u')
    return syntax_error (scan, error, start, "an invalid escape sequence");

  if (start + 5 >= length)
    return syntax_error (scan, error, start, "the text ends inside an escape sequence");
  if (!is_hex4 (scan, start + 2))
    return syntax_error (scan, error, start, "an invalid \\u escape");

  value = hex4 (data, start + 2);
  if (value == 0)
    return syntax_error (scan, error, start, "a \\u0000 escape");

  *i = start + 5;

  if (!(scan->flags & DOCTOR_JSON_SCAN_STRICT))
    return TRUE;

  if (value >= 0xdc00 && value <= 0xdfff)
    return syntax_error (scan, error, start, "the low half of a surrogate pair on its own");

  if (value >= 0xd800 && value <= 0xdbff)
    {
      gunichar low;

      if (start + 7 >= length || data[start + 6] != '\\' || data[start + 7] != 'u' ||
          !is_hex4 (scan, start + 8))
        return syntax_error (scan, error, start, "the high half of a surrogate pair on its own");

      low = hex4 (data, start + 8);
      if (low < 0xdc00 || low > 0xdfff)
        return syntax_error (scan, error, start, "the high half of a surrogate pair on its own");

      *i = start + 11;
    }

  return TRUE;
}

/* The text of a key, escapes decoded, for the duplicate check. scan_escape() has checked every
 * escape between start and end already.
 */
static char *
decode_key (const char *data,
            gsize       start,
            gsize       end)
{
  GString *key = g_string_sized_new (end - start);

  for (gsize i = start; i < end; i++)
    {
      gunichar value;

      if (data[i] != '\\')
        {
          g_string_append_c (key, data[i]);
          continue;
        }

      i++;
      switch (data[i])
        {
        case 'b': g_string_append_c (key, '\b'); break;
        case 'f': g_string_append_c (key, '\f'); break;
        case 'n': g_string_append_c (key, '\n'); break;
        case 'r': g_string_append_c (key, '\r'); break;
        case 't': g_string_append_c (key, '\t'); break;
        case 'u':
          value = hex4 (data, i + 1);
          i += 4;
          if (value >= 0xd800 && value <= 0xdbff)
            {
              value = 0x10000 + ((value - 0xd800) << 10) + (hex4 (data, i + 3) - 0xdc00);
              i += 6;
            }
          g_string_append_unichar (key, value);
          break;
        default:
          /* '"', '\\' and '/' stand for themselves. */
          g_string_append_c (key, data[i]);
          break;
        }
    }

  return g_string_free (key, FALSE);
}

/* Strict mode: the number that starts at *i must follow JSON's grammar and be one that
 * json-glib reads as written. Moves *i to its last byte.
 */
static gboolean
scan_number (const Scan  *scan,
             gsize       *i,
             GError     **error)
{
  const char *data = scan->data;
  gsize length = scan->length;
  gsize start = *i;
  gsize j = start;
  gboolean integer = TRUE;
  g_autofree char *token = NULL;

  if (data[j] == '-')
    j++;
  if (j >= length || !g_ascii_isdigit (data[j]))
    return syntax_error (scan, error, start, "a malformed number");

  if (data[j] == '0')
    j++;
  else
    while (j < length && g_ascii_isdigit (data[j]))
      j++;

  if (j < length && data[j] == '.')
    {
      integer = FALSE;
      if (++j >= length || !g_ascii_isdigit (data[j]))
        return syntax_error (scan, error, start, "a malformed number");
      while (j < length && g_ascii_isdigit (data[j]))
        j++;
    }

  if (j < length && (data[j] == 'e' || data[j] == 'E'))
    {
      integer = FALSE;
      if (++j < length && (data[j] == '+' || data[j] == '-'))
        j++;
      if (j >= length || !g_ascii_isdigit (data[j]))
        return syntax_error (scan, error, start, "a malformed number");
      while (j < length && g_ascii_isdigit (data[j]))
        j++;
    }

  if (j < length && g_ascii_isdigit (data[j]))
    return syntax_error (scan, error, start, "a number with a leading zero");

  token = g_strndup (data + start, j - start);
  if (integer)
    {
      if (!g_ascii_string_to_signed (token, 10, G_MININT64, G_MAXINT64, NULL, NULL))
        return syntax_error (scan, error, start, "an integer out of range");
    }
  else if (!isfinite (g_ascii_strtod (token, NULL)))
    return syntax_error (scan, error, start, "a number out of range");

  *i = j - 1;
  return TRUE;
}

/* Strict mode: true, false or null, spelt out, at *i. Moves *i to its last byte. */
static gboolean
scan_literal (const Scan  *scan,
              gsize       *i,
              GError     **error)
{
  static const char *const literals[] = { "true", "false", "null" };

  for (guint k = 0; k < G_N_ELEMENTS (literals); k++)
    {
      gsize size = strlen (literals[k]);

      if (scan->length - *i >= size && memcmp (scan->data + *i, literals[k], size) == 0)
        {
          *i += size - 1;
          return TRUE;
        }
    }

  return syntax_error (scan, error, *i, "an unexpected character");
}

static void
free_key_sets (GHashTable **keys,
               guint        max_depth)
{
  if (keys == NULL)
    return;

  for (guint k = 0; k <= max_depth; k++)
    g_clear_pointer (&keys[k], g_hash_table_unref);
  g_free (keys);
}

gboolean
doctor_json_scan (const char           *data,
                  gsize                 length,
                  guint                 max_depth,
                  DoctorJsonScanFlags   flags,
                  GQuark                error_domain,
                  int                   syntax_code,
                  int                   too_deep_code,
                  GError              **error)
{
  const Scan scan = {
    data, length, max_depth, flags, error_domain, syntax_code, too_deep_code,
  };
  gboolean strict = (flags & DOCTOR_JSON_SCAN_STRICT) != 0;
  /* Strict mode: the keys seen so far in each open object, by depth; NULL for an array. */
  GHashTable **keys = strict ? g_new0 (GHashTable *, max_depth + 1) : NULL;
  gboolean ok = FALSE;
  guint depth = 0;
  gboolean in_string = FALSE;
  gboolean expect_key = FALSE;
  gboolean in_key = FALSE;
  gsize key_start = 0;
  gboolean seen_root = FALSE;
  gboolean root_closed = FALSE;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  for (gsize i = 0; i < length; i++)
    {
      guchar c = data[i];

      if (in_string)
        {
          if (c == '"')
            {
              in_string = FALSE;
              if (in_key)
                {
                  char *key = decode_key (data, key_start, i);

                  in_key = FALSE;
                  if (!g_hash_table_add (keys[depth], key))
                    {
                      syntax_error (&scan, error, key_start - 1,
                                    "a key that is already in the same object");
                      goto out;
                    }
                }
            }
          else if (c == '\\')
            {
              if (!scan_escape (&scan, &i, error))
                goto out;
            }
          else if (c < 0x20)
            {
              syntax_error (&scan, error, i, "a control character inside a string");
              goto out;
            }

          continue;
        }

      if (is_json_space (c))
        continue;

      if (root_closed)
        {
          syntax_error (&scan, error, i, "more data after the end of the document");
          goto out;
        }

      if (depth == 0 && c != '{' && c != '[')
        {
          syntax_error (&scan, error, i, "the document is not an object");
          goto out;
        }

      switch (c)
        {
        case '{':
        case '[':
          if (++depth > max_depth)
            {
              g_set_error (error, error_domain, too_deep_code,
                           "Arrays and objects are nested deeper than %u levels at byte %"
                           G_GSIZE_FORMAT, max_depth, i);
              goto out;
            }
          seen_root = TRUE;
          if (strict && c == '{')
            keys[depth] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          expect_key = (c == '{');
          break;

        case '}':
        case ']':
          /* depth > 0 here: at depth 0 only an opening bracket gets this far. */
          if (strict)
            g_clear_pointer (&keys[depth], g_hash_table_unref);
          if (--depth == 0)
            root_closed = TRUE;
          expect_key = FALSE;
          break;

        case '"':
          in_string = TRUE;
          /* JsonParser checks that the key is where a key may be; this only tells keys from
           * values, and a string right after '{' or an object's ',' is a key.
           */
          if (strict && expect_key && keys[depth] != NULL)
            {
              in_key = TRUE;
              key_start = i + 1;
            }
          expect_key = FALSE;
          break;

        case ',':
          expect_key = TRUE;
          break;

        case ':':
          expect_key = FALSE;
          break;

        default:
          expect_key = FALSE;
          if (strict)
            {
              gboolean scanned;

              if (c == '-' || g_ascii_isdigit (c))
                scanned = scan_number (&scan, &i, error);
              else
                scanned = scan_literal (&scan, &i, error);

              if (!scanned)
                goto out;
            }
          /* What numbers, true, false and null are made of. JsonParser checks the order. */
          else if (c == '\0' || strchr ("0123456789+-.eEtruefalsn", c) == NULL)
            {
              syntax_error (&scan, error, i, "an unexpected character");
              goto out;
            }
          break;
        }
    }

  if (!seen_root)
    syntax_error (&scan, error, length, "the text is empty");
  else if (in_string)
    syntax_error (&scan, error, length, "the text ends inside a string");
  else if (depth > 0)
    syntax_error (&scan, error, length, "the text ends before every bracket is closed");
  else
    ok = TRUE;

out:
  free_key_sets (keys, max_depth);
  return ok;
}
