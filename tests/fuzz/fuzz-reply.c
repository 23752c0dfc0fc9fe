/* fuzz-reply.c: the reply parser (line reader, codes, enhanced status codes) on any bytes.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first byte chooses how the rest is cut into chunks, the way a server's bytes arrive in
 * reads of any size: its low 7 bits are the chunk size (0: the whole input at once), and its
 * high bit resets the parser after every reply. The parser is fed until it reports an error or
 * the input ends; every reply is printed and joined, and its fields are checked against the
 * bounds doctor-reply.h states.
 */
#include <glib.h>

#include "doctor-reply.h"
#include "fuzz.h"

static void
check_reply (DoctorReply *reply)
{
  g_autofree char *string = doctor_reply_to_string (reply);
  g_autofree char *text = doctor_reply_join_text (reply);

  g_assert_nonnull (string);
  g_assert_nonnull (text);
  g_assert_cmpuint (reply->code, >=, 200);
  g_assert_cmpuint (reply->code, <=, 599);
  g_assert_cmpuint (reply->lines->len, >=, 1);
  g_assert_cmpuint (reply->lines->len, <=, DOCTOR_REPLY_MAX_LINES);
  g_assert_true (g_utf8_validate (string, -1, NULL));
  g_assert_true (g_utf8_validate (text, -1, NULL));
  for (guint i = 0; i < reply->lines->len; i++)
    {
      const char *line = doctor_reply_get_line (reply, i);

      g_assert_nonnull (line);
      g_assert_true (g_utf8_validate (line, -1, NULL));
    }
  g_assert_null (doctor_reply_get_line (reply, reply->lines->len));
  if (reply->enhanced != NULL)
    g_assert_true (g_utf8_validate (reply->enhanced, -1, NULL));
  (void) doctor_reply_is_positive (reply);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(DoctorReplyParser) parser = NULL;
  gsize chunk, pos = 0;
  gboolean reset;
  guint rounds = 0;

  if (size == 0)
    return 0;

  chunk = data[0] & 0x7f;
  reset = (data[0] & 0x80) != 0;
  data++;
  size--;
  if (chunk == 0)
    chunk = size;

  {
    g_autofree char *safe = doctor_text_make_safe ((const char *) data, size);
    g_assert_true (g_utf8_validate (safe, -1, NULL));
  }

  parser = doctor_reply_parser_new ();
  while (pos < size)
    {
      gsize end = MIN (size, pos + chunk);

      /* Each round consumes a byte or makes a reply from at least one line: bounded. */
      g_assert_cmpuint (++rounds, <=, 2 * size + 2);

      while (pos < end)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(DoctorReply) reply = NULL;
          DoctorParseStatus status;
          gsize consumed = 0;

          status = doctor_reply_parser_feed (parser, data + pos, end - pos, &consumed, &reply,
                                             &error);
          g_assert_cmpuint (consumed, <=, end - pos);
          pos += consumed;

          if (status == DOCTOR_PARSE_ERROR)
            {
              g_assert_nonnull (error);
              g_assert_null (reply);
              return 0;
            }
          g_assert_no_error (error);
          if (status == DOCTOR_PARSE_NEED_MORE)
            {
              g_assert_null (reply);
              g_assert_cmpuint (pos, ==, end);
              break;
            }
          g_assert_nonnull (reply);
          check_reply (reply);
          if (reset)
            doctor_reply_parser_reset (parser);
          if (consumed == 0 && ++rounds > 2 * size + 2)
            g_error ("the parser makes replies without consuming bytes");
        }
    }

  {
    g_autofree char *partial = doctor_reply_parser_get_partial (parser);
    if (partial != NULL)
      g_assert_true (g_utf8_validate (partial, -1, NULL));
  }
  (void) doctor_reply_parser_is_idle (parser);
  return 0;
}
