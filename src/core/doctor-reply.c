/* doctor-reply.c: SMTP replies and the bounded parser that makes them from bytes.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A reply is one or more lines "ddd-text" ending with "ddd text" (or a bare "ddd"). Lines end
 * in CRLF; a bare LF is accepted and noted, because real servers send it and a CRLF-only reader
 * would never split their lines. A NUL byte, a line over DOCTOR_REPLY_MAX_LINE_LENGTH, a reply
 * over DOCTOR_REPLY_MAX_LINES lines or DOCTOR_REPLY_MAX_BYTES bytes, a bad separator or lines
 * whose codes disagree stop the parser with an error: nothing is buffered past the caps.
 */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "doctor-capabilities-private.h"
#include "doctor-error.h"
#include "doctor-reply.h"

struct _DoctorReplyParser
{
  GString     *line;
  DoctorReply *pending;
  gsize        reply_bytes;
  gboolean     failed;
};

DoctorReply *
doctor_reply_new (guint code)
{
  DoctorReply *reply = g_new0 (DoctorReply, 1);

  reply->code = code;
  reply->lines = g_ptr_array_new_with_free_func (g_free);

  return reply;
}

void
doctor_reply_free (DoctorReply *reply)
{
  if (reply == NULL)
    return;

  g_clear_pointer (&reply->lines, g_ptr_array_unref);
  g_free (reply->enhanced);
  g_free (reply);
}

const char *
doctor_reply_get_line (const DoctorReply *reply,
                       guint              index)
{
  g_return_val_if_fail (reply != NULL, NULL);

  if (index >= reply->lines->len)
    return NULL;

  return g_ptr_array_index (reply->lines, index);
}

gboolean
doctor_reply_is_positive (const DoctorReply *reply)
{
  return reply != NULL && reply->code >= 200 && reply->code < 400;
}

/* The reply as the server sent it, one "ddd-text" line per line, without line ends. */
char *
doctor_reply_to_string (const DoctorReply *reply)
{
  GString *str;

  g_return_val_if_fail (reply != NULL, NULL);

  str = g_string_new (NULL);
  for (guint i = 0; i < reply->lines->len; i++)
    {
      const char *text = g_ptr_array_index (reply->lines, i);
      gboolean last = i + 1 == reply->lines->len;

      if (i > 0)
        g_string_append_c (str, '\n');
      g_string_append_printf (str, "%03u%s%s", reply->code,
                              last ? (*text ? " " : "") : "-", text);
    }

  return g_string_free (str, FALSE);
}

/* The text of every line joined by spaces, for a one-line summary. */
char *
doctor_reply_join_text (const DoctorReply *reply)
{
  GString *str;

  g_return_val_if_fail (reply != NULL, NULL);

  str = g_string_new (NULL);
  for (guint i = 0; i < reply->lines->len; i++)
    {
      const char *text = g_ptr_array_index (reply->lines, i);

      if (*text == '\0')
        continue;
      if (str->len > 0)
        g_string_append_c (str, ' ');
      g_string_append (str, text);
    }

  return g_string_free (str, FALSE);
}

/* Server text is data: it becomes valid UTF-8 and every control character (C0, DEL, C1) is
 * written as a visible escape, so that an ANSI sequence or a stray CR shows literally in a
 * terminal, a report or a label instead of acting. */
char *
doctor_text_make_safe (const char *data,
                       gssize      length)
{
  g_autofree char *valid = NULL;
  GString *str;

  if (data == NULL)
    return g_strdup ("");

  if (length < 0)
    length = strlen (data);

  valid = g_utf8_make_valid (data, length);
  str = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f)
        g_string_append_printf (str, "\\x%02x", c);
      else if (c >= 0x80 && c < 0xa0)
        g_string_append_printf (str, "\\u%04x", c);
      else
        g_string_append_unichar (str, c);
    }

  return g_string_free (str, FALSE);
}

DoctorReplyParser *
doctor_reply_parser_new (void)
{
  DoctorReplyParser *parser = g_new0 (DoctorReplyParser, 1);

  parser->line = g_string_sized_new (256);

  return parser;
}

void
doctor_reply_parser_free (DoctorReplyParser *parser)
{
  if (parser == NULL)
    return;

  g_string_free (parser->line, TRUE);
  doctor_reply_free (parser->pending);
  g_free (parser);
}

void
doctor_reply_parser_reset (DoctorReplyParser *parser)
{
  g_return_if_fail (parser != NULL);

  g_string_truncate (parser->line, 0);
  g_clear_pointer (&parser->pending, doctor_reply_free);
  parser->reply_bytes = 0;
  parser->failed = FALSE;
}

/* TRUE when no part of a reply has been seen since the last complete one. */
gboolean
doctor_reply_parser_is_idle (DoctorReplyParser *parser)
{
  g_return_val_if_fail (parser != NULL, FALSE);

  return parser->line->len == 0 && parser->pending == NULL;
}

/* What has arrived of an unfinished reply, made safe to show, or NULL when nothing has. */
char *
doctor_reply_parser_get_partial (DoctorReplyParser *parser)
{
  g_autoptr(GString) str = NULL;

  g_return_val_if_fail (parser != NULL, NULL);

  if (doctor_reply_parser_is_idle (parser))
    return NULL;

  str = g_string_new (NULL);
  if (parser->pending != NULL)
    {
      /* A pending reply only holds continuation lines. They are shown with their "-", so that
       * a reply cut short after one of them does not look like a complete one. */
      for (guint i = 0; i < parser->pending->lines->len; i++)
        g_string_append_printf (str, "%s%03u-%s", i > 0 ? "\n" : "", parser->pending->code,
                                (const char *) g_ptr_array_index (parser->pending->lines, i));
    }
  if (parser->line->len > 0)
    {
      g_autofree char *safe = doctor_text_make_safe (parser->line->str, parser->line->len);

      if (str->len > 0)
        g_string_append_c (str, '\n');
      g_string_append (str, safe);
    }

  return g_strdup (str->str);
}

static char *
parse_enhanced_code (const char *text)
{
  /* RFC 3463: class "." subject "." detail, class one of 2, 4, 5, the others 1 to 3 digits. */
  const char *p = text;
  guint digits;

  if (p[0] != '2' && p[0] != '4' && p[0] != '5')
    return NULL;
  if (p[1] != '.')
    return NULL;
  p += 2;

  for (guint part = 0; part < 2; part++)
    {
      for (digits = 0; g_ascii_isdigit (p[digits]); digits++)
        ;
      if (digits == 0 || digits > 3)
        return NULL;
      p += digits;
      if (part == 0)
        {
          if (*p != '.')
            return NULL;
          p++;
        }
    }

  if (*p != '\0' && *p != ' ')
    return NULL;

  return g_strndup (text, p - text);
}

static gboolean
fail (DoctorReplyParser  *parser,
      GError            **error,
      DoctorError         code,
      const char         *message,
      const char         *raw,
      gsize               raw_length)
{
  parser->failed = TRUE;

  if (raw != NULL)
    {
      g_autofree char *safe = doctor_text_make_safe (raw, MIN (raw_length, 200));

      /* Translators: what is wrong with a server reply, then the line the server sent
       * (an ellipsis ends it when it was cut short). */
      g_set_error (error, DOCTOR_ERROR, code, _("%s: “%s%s”"), message, safe,
                   raw_length > 200 ? "…" : "");
    }
  else
    {
      g_set_error_literal (error, DOCTOR_ERROR, code, message);
    }

  return FALSE;
}

/* Takes the line in parser->line (line end removed). Returns FALSE on error; sets *complete
 * when the line was the last of its reply. */
static gboolean
take_line (DoctorReplyParser  *parser,
           gboolean            bare_lf,
           gboolean           *complete,
           GError            **error)
{
  const char *line = parser->line->str;
  gsize length = parser->line->len;
  gboolean last;
  guint code;
  char *text;

  *complete = FALSE;

  if (length < 3 ||
      line[0] < '2' || line[0] > '5' ||
      line[1] < '0' || line[1] > '5' ||
      !g_ascii_isdigit (line[2]))
    return fail (parser, error, DOCTOR_ERROR_MALFORMED_REPLY,
                 _("The server sent a line that is not an SMTP reply"), line, length);

  if (length == 3 || line[3] == ' ')
    last = TRUE;
  else if (line[3] == '-')
    last = FALSE;
  else
    return fail (parser, error, DOCTOR_ERROR_MALFORMED_REPLY,
                 _("The server sent a reply line with a bad separator"), line, length);

  code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

  if (parser->pending == NULL)
    {
      parser->pending = doctor_reply_new (code);
    }
  else if (parser->pending->code != code)
    {
      return fail (parser, error, DOCTOR_ERROR_MALFORMED_REPLY,
                   _("The lines of one server reply carry different codes"), line, length);
    }

  if (parser->pending->lines->len >= DOCTOR_REPLY_MAX_LINES)
    return fail (parser, error, DOCTOR_ERROR_REPLY_TOO_LONG,
                 _("The server reply has too many lines"), NULL, 0);

  text = doctor_text_make_safe (length > 4 ? line + 4 : "", length > 4 ? (gssize) length - 4 : 0);
  if (parser->pending->lines->len == 0)
    parser->pending->enhanced = parse_enhanced_code (text);
  g_ptr_array_add (parser->pending->lines, text);

  if (bare_lf)
    parser->pending->bare_lf = TRUE;
  if (length + 2 > DOCTOR_REPLY_RFC_LINE_LENGTH)
    parser->pending->over_rfc_length = TRUE;

  g_string_truncate (parser->line, 0);
  *complete = last;

  return TRUE;
}

DoctorParseStatus
doctor_reply_parser_feed (DoctorReplyParser  *parser,
                          const guint8       *data,
                          gsize               length,
                          gsize              *consumed,
                          DoctorReply       **reply,
                          GError            **error)
{
  g_return_val_if_fail (parser != NULL, DOCTOR_PARSE_ERROR);
  g_return_val_if_fail (data != NULL || length == 0, DOCTOR_PARSE_ERROR);
  g_return_val_if_fail (consumed != NULL, DOCTOR_PARSE_ERROR);
  g_return_val_if_fail (reply != NULL && *reply == NULL, DOCTOR_PARSE_ERROR);

  *consumed = 0;

  if (parser->failed)
    {
      g_set_error_literal (error, DOCTOR_ERROR, DOCTOR_ERROR_MALFORMED_REPLY,
                           "The reply parser was used after an error");
      return DOCTOR_PARSE_ERROR;
    }

  for (gsize i = 0; i < length; i++)
    {
      guint8 byte = data[i];

      *consumed = i + 1;

      if (++parser->reply_bytes > DOCTOR_REPLY_MAX_BYTES)
        {
          fail (parser, error, DOCTOR_ERROR_REPLY_TOO_LONG,
                _("The server reply is larger than 64 KiB"), NULL, 0);
          return DOCTOR_PARSE_ERROR;
        }

      if (byte == '\0')
        {
          fail (parser, error, DOCTOR_ERROR_NUL_BYTE,
                _("The server sent a NUL byte inside a reply"), parser->line->str, parser->line->len);
          return DOCTOR_PARSE_ERROR;
        }

      if (byte == '\n')
        {
          gboolean bare_lf = TRUE;
          gboolean complete;

          if (parser->line->len > 0 && parser->line->str[parser->line->len - 1] == '\r')
            {
              g_string_truncate (parser->line, parser->line->len - 1);
              bare_lf = FALSE;
            }

          if (!take_line (parser, bare_lf, &complete, error))
            return DOCTOR_PARSE_ERROR;

          if (complete)
            {
              *reply = g_steal_pointer (&parser->pending);
              parser->reply_bytes = 0;
              return DOCTOR_PARSE_REPLY;
            }

          continue;
        }

      /* The cap counts the bytes before the line end, so one CR more may follow a line at the
       * cap: the same text is then accepted whether it ends in CRLF or in a bare LF. */
      if (parser->line->len >= DOCTOR_REPLY_MAX_LINE_LENGTH &&
          !(byte == '\r' && parser->line->len == DOCTOR_REPLY_MAX_LINE_LENGTH))
        {
          fail (parser, error, DOCTOR_ERROR_LINE_TOO_LONG,
                _("The server sent a line longer than 8 KiB"), parser->line->str, parser->line->len);
          return DOCTOR_PARSE_ERROR;
        }

      g_string_append_c (parser->line, (char) byte);
    }

  return DOCTOR_PARSE_NEED_MORE;
}

/* EHLO capabilities (doctor-capabilities-private.h) ------------------------------------------- */

/* (element-type utf8) "KEYWORD params", one per line after the first: the first line is the
 * server's name and greeting; each further line is one keyword with its parameters
 * (RFC 5321 §4.1.1.1). Empty lines are dropped. */
GPtrArray *
doctor_capabilities_parse (const DoctorReply *reply)
{
  GPtrArray *capabilities = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (reply != NULL, capabilities);

  for (guint i = 1; i < reply->lines->len; i++)
    {
      const char *line = g_ptr_array_index (reply->lines, i);

      if (*line != '\0')
        g_ptr_array_add (capabilities, g_strdup (line));
    }

  return capabilities;
}

/* The parameters of @keyword (any case), "" when it has none, NULL when it is not offered.
 * "KEYWORD=params" is accepted too, as old servers wrote "AUTH=PLAIN". */
const char *
doctor_capabilities_lookup (GPtrArray  *capabilities,
                            const char *keyword)
{
  gsize length;

  g_return_val_if_fail (keyword != NULL, NULL);

  if (capabilities == NULL)
    return NULL;

  length = strlen (keyword);
  for (guint i = 0; i < capabilities->len; i++)
    {
      const char *line = g_ptr_array_index (capabilities, i);

      if (g_ascii_strncasecmp (line, keyword, length) == 0 &&
          (line[length] == '\0' || line[length] == ' ' || line[length] == '='))
        return line[length] == '\0' ? line + length : line + length + 1;
    }

  return NULL;
}

/* Every mechanism of every AUTH line, in the server's order, never an empty word. */
GStrv
doctor_capabilities_auth_mechanisms (GPtrArray *capabilities)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (capabilities == NULL)
    return g_strv_builder_end (builder);

  for (guint i = 0; i < capabilities->len; i++)
    {
      const char *line = g_ptr_array_index (capabilities, i);

      /* "AUTH PLAIN LOGIN", and the old "AUTH=PLAIN LOGIN" of some servers. */
      if (g_ascii_strncasecmp (line, "AUTH", 4) == 0 && (line[4] == ' ' || line[4] == '='))
        {
          g_auto(GStrv) words = g_strsplit (line + 5, " ", -1);

          for (guint w = 0; words[w] != NULL; w++)
            {
              if (*words[w] != '\0')
                g_strv_builder_add (builder, words[w]);
            }
        }
    }

  return g_strv_builder_end (builder);
}
