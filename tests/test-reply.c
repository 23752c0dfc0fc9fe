/* test-reply.c: the bounded SMTP reply parser (doctor-reply.c).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Covers the reply grammar (multi-line replies, a bare code, bad separators and codes, codes
 * that disagree), line ends (CRLF, bare LF, CR CR LF), the caps on line length, lines per reply
 * and bytes per reply, NUL bytes, enhanced status codes, the escaping of server text, the
 * parser's state after errors and partial input, and the string helpers. Every input is fed
 * both whole and in small chunks, and the results must not depend on the chunking.
 * See /work/shared/research/reliability-anchors.md, section A3.
 */
#include <string.h>
#include <glib.h>

#include "doctor-error.h"
#include "doctor-reply.h"

#define WHOLE G_MAXSIZE

/* What one run of the parser over some input produced. */
typedef struct
{
  GPtrArray         *replies;   /* (element-type DoctorReply) */
  GError            *error;
  DoctorParseStatus  status;    /* of the last feed */
  gsize              consumed;  /* bytes taken in all, up to and including an error */
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->replies, g_ptr_array_unref);
  g_clear_error (&run->error);
  run->status = DOCTOR_PARSE_NEED_MORE;
  run->consumed = 0;
}

/* Feeds @length bytes in chunks of @chunk bytes, the way a socket would deliver them. After a
 * reply the rest of the chunk is fed again, as the stream code does. Stops at an error. */
static void
run_feed (DoctorReplyParser *parser,
          const void        *data,
          gsize              length,
          gsize              chunk,
          Run               *run)
{
  const guint8 *bytes = data;

  if (run->replies == NULL)
    run->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) doctor_reply_free);
  run->status = DOCTOR_PARSE_NEED_MORE;

  for (gsize start = 0; start < length; start += MIN (chunk, length - start))
    {
      gsize end = start + MIN (chunk, length - start);
      gsize pos = start;

      while (pos < end)
        {
          DoctorReply *reply = NULL;
          gsize consumed = G_MAXSIZE;

          run->status = doctor_reply_parser_feed (parser, bytes + pos, end - pos, &consumed,
                                                  &reply, &run->error);
          g_assert_cmpuint (consumed, <=, end - pos);
          pos += consumed;
          run->consumed += consumed;

          switch (run->status)
            {
            case DOCTOR_PARSE_REPLY:
              g_assert_nonnull (reply);
              g_assert_no_error (run->error);
              g_assert_cmpuint (consumed, >, 0);
              g_assert_true (doctor_reply_parser_is_idle (parser));
              g_ptr_array_add (run->replies, reply);
              break;

            case DOCTOR_PARSE_NEED_MORE:
              g_assert_null (reply);
              g_assert_no_error (run->error);
              g_assert_cmpuint (pos, ==, end);
              break;

            case DOCTOR_PARSE_ERROR:
              g_assert_null (reply);
              g_assert_nonnull (run->error);
              return;

            default:
              g_assert_not_reached ();
            }
        }
    }
}

/* Runs a fresh parser over the whole of @data. */
static void
run_parse (const void *data,
           gsize       length,
           gsize       chunk,
           Run        *run)
{
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();

  run_feed (parser, data, length, chunk, run);
}

/* A description of everything a run produced, to compare runs with different chunkings. */
static char *
run_describe (const Run *run)
{
  GString *str = g_string_new (NULL);

  for (guint i = 0; i < run->replies->len; i++)
    {
      const DoctorReply *reply = g_ptr_array_index (run->replies, i);
      g_autofree char *text = doctor_reply_to_string (reply);

      g_string_append_printf (str, "[%u lines=%u enh=%s lf=%u long=%u] %s\n", reply->code,
                              reply->lines->len, reply->enhanced ? reply->enhanced : "-",
                              reply->bare_lf, reply->over_rfc_length, text);
    }
  if (run->error != NULL)
    g_string_append_printf (str, "error %d: %s\n", run->error->code, run->error->message);
  g_string_append_printf (str, "status %d consumed %" G_GSIZE_FORMAT "\n", run->status,
                          run->consumed);

  return g_string_free (str, FALSE);
}

/* Parses @data, which must hold exactly one complete reply, whole and one byte at a time,
 * checks that both give the same result, and returns the reply. */
static DoctorReply *
parse_one (const char *data,
           gssize      length)
{
  Run whole = { 0 };
  Run bytewise = { 0 };
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  DoctorReply *reply;

  if (length < 0)
    length = strlen (data);

  run_parse (data, length, WHOLE, &whole);
  run_parse (data, length, 1, &bytewise);

  g_assert_no_error (whole.error);
  g_assert_cmpint (whole.status, ==, DOCTOR_PARSE_REPLY);
  g_assert_cmpuint (whole.replies->len, ==, 1);
  g_assert_cmpuint (whole.consumed, ==, (gsize) length);

  a = run_describe (&whole);
  b = run_describe (&bytewise);
  g_assert_cmpstr (a, ==, b);

  reply = g_ptr_array_steal_index (whole.replies, 0);
  run_clear (&whole);
  run_clear (&bytewise);

  return reply;
}

/* Parses @data, which must break a rule, and checks the error is @code whatever the chunking.
 * Returns the number of bytes consumed up to the error. */
static gsize
parse_error (const char *data,
             gssize      length,
             DoctorError code)
{
  static const gsize chunks[] = { WHOLE, 1, 3 };
  g_autofree char *first = NULL;
  gsize consumed = 0;

  if (length < 0)
    length = strlen (data);

  for (guint i = 0; i < G_N_ELEMENTS (chunks); i++)
    {
      Run run = { 0 };
      g_autofree char *description = NULL;

      run_parse (data, length, chunks[i], &run);
      g_assert_error (run.error, DOCTOR_ERROR, (gint) code);
      g_assert_cmpint (run.status, ==, DOCTOR_PARSE_ERROR);
      g_assert_cmpuint (run.consumed, >, 0);   /* the byte that broke the rule is taken */
      g_assert_true (g_utf8_validate (run.error->message, -1, NULL));
      g_assert_null (strchr (run.error->message, '\x1b'));
      g_assert_null (strchr (run.error->message, '\r'));

      description = run_describe (&run);
      if (first == NULL)
        first = g_steal_pointer (&description);
      else
        g_assert_cmpstr (description, ==, first);

      consumed = run.consumed;
      run_clear (&run);
    }

  return consumed;
}

/* A line of @length bytes before its line end: "ddd" @sep, then 'A's. */
static char *
make_line (const char *code_sep,
           gsize       length,
           const char *line_end)
{
  GString *str = g_string_new (code_sep);

  g_assert_cmpuint (length, >=, str->len);
  while (str->len < length)
    g_string_append_c (str, 'A');
  g_string_append (str, line_end);

  return g_string_free (str, FALSE);
}

/* --- Grammar --- */

static void
test_multiline (void)
{
  const char *input = "250-a\r\n250-b\r\n250 c\r\n";
  g_autoptr(DoctorReply) reply = parse_one (input, -1);

  g_assert_cmpuint (reply->code, ==, 250);
  g_assert_cmpuint (reply->lines->len, ==, 3);
  g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "a");
  g_assert_cmpstr (doctor_reply_get_line (reply, 1), ==, "b");
  g_assert_cmpstr (doctor_reply_get_line (reply, 2), ==, "c");
  g_assert_null (doctor_reply_get_line (reply, 3));
  g_assert_null (reply->enhanced);
  g_assert_false (reply->bare_lf);
  g_assert_false (reply->over_rfc_length);
  g_assert_true (doctor_reply_is_positive (reply));
}

static void
test_multiline_chunked (void)
{
  /* A realistic EHLO reply followed by a second reply, in every chunk size up to its length:
   * the result must be the same as when it arrives whole. */
  const char *input =
    "250-mx.example.org Hello client.example [192.0.2.1]\r\n"
    "250-SIZE 52428800\r\n"
    "250-8BITMIME\r\n"
    "250-PIPELINING\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-STARTTLS\r\n"
    "250 HELP\r\n"
    "220 2.0.0 Ready to start TLS\r\n";
  gsize length = strlen (input);
  Run whole = { 0 };
  g_autofree char *expected = NULL;
  const DoctorReply *ehlo;
  const DoctorReply *tls;

  run_parse (input, length, WHOLE, &whole);
  g_assert_no_error (whole.error);
  g_assert_cmpuint (whole.replies->len, ==, 2);
  g_assert_cmpuint (whole.consumed, ==, length);

  ehlo = g_ptr_array_index (whole.replies, 0);
  g_assert_cmpuint (ehlo->code, ==, 250);
  g_assert_cmpuint (ehlo->lines->len, ==, 7);
  g_assert_cmpstr (doctor_reply_get_line (ehlo, 4), ==, "AUTH PLAIN LOGIN");
  tls = g_ptr_array_index (whole.replies, 1);
  g_assert_cmpuint (tls->code, ==, 220);
  g_assert_cmpstr (tls->enhanced, ==, "2.0.0");

  expected = run_describe (&whole);
  run_clear (&whole);

  for (gsize chunk = 1; chunk <= length; chunk++)
    {
      Run run = { 0 };
      g_autofree char *got = NULL;

      run_parse (input, length, chunk, &run);
      got = run_describe (&run);
      g_assert_cmpstr (got, ==, expected);
      run_clear (&run);
    }
}

static void
test_back_to_back (void)
{
  /* Pipelined replies in one buffer: the parser stops after each and says how much it took. */
  const char *input = "250 2.1.0 Ok\r\n250-a\r\n250 b\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                      "250 par";
  const char *expected[] = {
    "250 2.1.0 Ok", "250-a\n250 b", "354 End data with <CR><LF>.<CR><LF>",
  };
  const gsize sizes[] = { 14, 14, 37 };
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
  const guint8 *data = (const guint8 *) input;
  gsize left = strlen (input);
  g_autofree char *partial = NULL;
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(DoctorReply) reply = NULL;
      g_autofree char *text = NULL;
      gsize consumed = 0;

      g_assert_cmpint (doctor_reply_parser_feed (parser, data, left, &consumed, &reply, &error),
                       ==, DOCTOR_PARSE_REPLY);
      g_assert_no_error (error);
      g_assert_cmpuint (consumed, ==, sizes[i]);
      text = doctor_reply_to_string (reply);
      g_assert_cmpstr (text, ==, expected[i]);
      g_assert_true (doctor_reply_parser_is_idle (parser));

      data += consumed;
      left -= consumed;
    }

  /* What is left is the start of a fourth reply. */
  {
    g_autoptr(DoctorReply) reply = NULL;
    gsize consumed = 0;

    g_assert_cmpint (doctor_reply_parser_feed (parser, data, left, &consumed, &reply, &error),
                     ==, DOCTOR_PARSE_NEED_MORE);
    g_assert_no_error (error);
    g_assert_null (reply);
    g_assert_cmpuint (consumed, ==, left);
    g_assert_cmpuint (left, ==, 7);
  }

  g_assert_false (doctor_reply_parser_is_idle (parser));
  partial = doctor_reply_parser_get_partial (parser);
  g_assert_cmpstr (partial, ==, "250 par");
}

static void
test_empty_feed (void)
{
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
  g_autoptr(DoctorReply) reply = NULL;
  GError *error = NULL;
  gsize consumed = 42;

  g_assert_cmpint (doctor_reply_parser_feed (parser, NULL, 0, &consumed, &reply, &error),
                   ==, DOCTOR_PARSE_NEED_MORE);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, 0);
  g_assert_null (reply);
  g_assert_true (doctor_reply_parser_is_idle (parser));
}

static void
test_no_text (void)
{
  /* RFC 5321 §4.2.1: clients must accept a last line with no text and no space. */
  const char *inputs[] = { "250\r\n", "250 \r\n", "250\n", "250 \n" };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(DoctorReply) reply = parse_one (inputs[i], -1);
      g_autofree char *text = doctor_reply_to_string (reply);
      g_autofree char *joined = doctor_reply_join_text (reply);

      g_assert_cmpuint (reply->code, ==, 250);
      g_assert_cmpuint (reply->lines->len, ==, 1);
      g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "");
      g_assert_null (reply->enhanced);
      g_assert_cmpstr (text, ==, "250");
      g_assert_cmpstr (joined, ==, "");
    }

  /* A continuation line with no text, and a bare last line after continuation lines. */
  {
    g_autoptr(DoctorReply) reply = parse_one ("250-\r\n250-x\r\n250\r\n", -1);

    g_assert_cmpuint (reply->lines->len, ==, 3);
    g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "");
    g_assert_cmpstr (doctor_reply_get_line (reply, 1), ==, "x");
    g_assert_cmpstr (doctor_reply_get_line (reply, 2), ==, "");
  }
}

static void
test_bad_separator (void)
{
  const char *inputs[] = {
    "250_x\r\n", "25 x\r\n", "2500 x\r\n", "abc x\r\n", "000 x\r\n", "999 x\r\n", "1xx\r\n",
    "199 x\r\n", "600 x\r\n", "260 x\r\n", "599 x\r\n", "25\r\n", "2\r\n", "\r\n", "\n",
    " 250 x\r\n", "2a0 x\r\n", "25a x\r\n", "250\tx\r\n", "250=x\r\n", "250x\r\n", "250.x\r\n",
    "-250 x\r\n", "\xef\xbb\xbf" "250 x\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autofree char *escaped = g_strescape (inputs[i], NULL);
      gsize consumed;

      g_test_message ("input %u: %s", i, escaped);
      consumed = parse_error (inputs[i], -1, DOCTOR_ERROR_MALFORMED_REPLY);
      /* The line is judged when it ends, not before. */
      g_assert_cmpuint (consumed, ==, strlen (inputs[i]));
    }

  /* A bad line after good continuation lines fails the whole reply. */
  parse_error ("250-a\r\n250-b\r\n250_c\r\n", -1, DOCTOR_ERROR_MALFORMED_REPLY);
  parse_error ("250-a\r\n\r\n", -1, DOCTOR_ERROR_MALFORMED_REPLY);
}

static void
test_bad_separator_message (void)
{
  /* The raw line is shown in the message, escaped. */
  Run run = { 0 };

  run_parse ("250_x\x1b[2J\r\n", 11, WHOLE, &run);
  g_assert_error (run.error, DOCTOR_ERROR, DOCTOR_ERROR_MALFORMED_REPLY);
  g_assert_nonnull (strstr (run.error->message, "250_x\\x1b[2J"));
  g_assert_null (strchr (run.error->message, '\x1b'));
  run_clear (&run);
}

static void
test_codes_edges (void)
{
  /* RFC 5321 §4.2: a first digit 2..5, a second 0..5, a third 0..9. */
  const char *good[] = { "200 x\r\n", "559 x\r\n", "421 4.3.2 Shutting down\r\n", "354 go\r\n" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(DoctorReply) reply = parse_one (good[i], -1);

      g_assert_cmpuint (reply->code, ==, (guint) g_ascii_strtoull (good[i], NULL, 10));
    }

  g_assert_false (doctor_reply_is_positive (NULL));
  {
    g_autoptr(DoctorReply) r354 = doctor_reply_new (354);
    g_autoptr(DoctorReply) r421 = doctor_reply_new (421);
    g_autoptr(DoctorReply) r550 = doctor_reply_new (550);

    g_assert_true (doctor_reply_is_positive (r354));
    g_assert_false (doctor_reply_is_positive (r421));
    g_assert_false (doctor_reply_is_positive (r550));
  }
}

static void
test_mixed_codes (void)
{
  gsize consumed;

  consumed = parse_error ("250-x\r\n550 y\r\n", -1, DOCTOR_ERROR_MALFORMED_REPLY);
  g_assert_cmpuint (consumed, ==, 14);

  parse_error ("250-x\r\n251-y\r\n250 z\r\n", -1, DOCTOR_ERROR_MALFORMED_REPLY);
  parse_error ("550-x\n250 y\n", -1, DOCTOR_ERROR_MALFORMED_REPLY);
}

/* --- Line ends --- */

static void
test_bare_lf (void)
{
  {
    g_autoptr(DoctorReply) reply = parse_one ("250-x\n250 y\n", -1);

    g_assert_cmpuint (reply->code, ==, 250);
    g_assert_cmpuint (reply->lines->len, ==, 2);
    g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "x");
    g_assert_cmpstr (doctor_reply_get_line (reply, 1), ==, "y");
    g_assert_true (reply->bare_lf);
  }
  {
    /* One bare LF among CRLF lines is enough to note it. */
    g_autoptr(DoctorReply) reply = parse_one ("250-x\r\n250-y\n250 z\r\n", -1);

    g_assert_cmpuint (reply->lines->len, ==, 3);
    g_assert_true (reply->bare_lf);
  }
  {
    g_autoptr(DoctorReply) reply = parse_one ("250-x\r\n250 y\r\n", -1);

    g_assert_cmpuint (reply->lines->len, ==, 2);
    g_assert_cmpstr (doctor_reply_get_line (reply, 1), ==, "y");
    g_assert_false (reply->bare_lf);
  }
  {
    /* The flag belongs to one reply: the next one starts clean. */
    Run run = { 0 };
    const DoctorReply *first;
    const DoctorReply *second;

    run_parse ("250 x\n250 y\r\n", 13, WHOLE, &run);
    g_assert_no_error (run.error);
    g_assert_cmpuint (run.replies->len, ==, 2);
    first = g_ptr_array_index (run.replies, 0);
    second = g_ptr_array_index (run.replies, 1);
    g_assert_true (first->bare_lf);
    g_assert_false (second->bare_lf);
    run_clear (&run);
  }
}

static void
test_cr (void)
{
  {
    /* CR CR LF: one CR belongs to the line end, the other is text and is shown escaped. */
    g_autoptr(DoctorReply) reply = parse_one ("250 x\r\r\n", -1);

    g_assert_cmpuint (reply->lines->len, ==, 1);
    g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "x\\x0d");
    g_assert_false (reply->bare_lf);
  }
  {
    /* A lone CR does not end a line. */
    g_autoptr(DoctorReply) reply = parse_one ("250 a\rb\r\n", -1);

    g_assert_cmpuint (reply->lines->len, ==, 1);
    g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "a\\x0db");
  }
  {
    g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
    Run run = { 0 };

    run_feed (parser, "250 ok\r", 7, WHOLE, &run);
    g_assert_no_error (run.error);
    g_assert_cmpint (run.status, ==, DOCTOR_PARSE_NEED_MORE);
    g_assert_cmpuint (run.replies->len, ==, 0);
    g_assert_false (doctor_reply_parser_is_idle (parser));
    run_feed (parser, "\n", 1, WHOLE, &run);
    g_assert_cmpint (run.status, ==, DOCTOR_PARSE_REPLY);
    g_assert_cmpuint (run.replies->len, ==, 1);
    g_assert_cmpstr (doctor_reply_get_line (g_ptr_array_index (run.replies, 0), 0), ==, "ok");
    run_clear (&run);
  }
  /* A CR is no line end for the code either. */
  parse_error ("250\r250 x\r\n", -1, DOCTOR_ERROR_MALFORMED_REPLY);
}

static void
test_nul_byte (void)
{
  gsize consumed;

  consumed = parse_error ("250 a\0b\r\n", 9, DOCTOR_ERROR_NUL_BYTE);
  g_assert_cmpuint (consumed, ==, 6);   /* refused at the NUL, before the line ends */

  parse_error ("\0", 1, DOCTOR_ERROR_NUL_BYTE);
  parse_error ("25\0 x\r\n", 7, DOCTOR_ERROR_NUL_BYTE);
  parse_error ("250-ok\r\n\0", 9, DOCTOR_ERROR_NUL_BYTE);
  parse_error ("250 ok\r\0\n", 9, DOCTOR_ERROR_NUL_BYTE);
}

/* --- Caps --- */

static void
test_line_cap (void)
{
  /* DOCTOR_REPLY_MAX_LINE_LENGTH counts the bytes of a line before its line end, the same
   * whether the line ends in CRLF or in a bare LF. */
  const char *line_ends[] = { "\r\n", "\n" };

  for (guint i = 0; i < G_N_ELEMENTS (line_ends); i++)
    {
      g_autofree char *max = make_line ("250 ", DOCTOR_REPLY_MAX_LINE_LENGTH, line_ends[i]);
      g_autofree char *over = make_line ("250 ", DOCTOR_REPLY_MAX_LINE_LENGTH + 1, line_ends[i]);
      g_autofree char *cont = make_line ("250-", DOCTOR_REPLY_MAX_LINE_LENGTH, line_ends[i]);
      g_autofree char *two = g_strconcat (cont, "250 end", line_ends[i], NULL);
      g_autoptr(DoctorReply) reply = parse_one (max, -1);
      g_autoptr(DoctorReply) reply2 = parse_one (two, -1);
      gsize consumed;

      g_assert_cmpuint (strlen (doctor_reply_get_line (reply, 0)),
                        ==, DOCTOR_REPLY_MAX_LINE_LENGTH - 4);
      g_assert_true (reply->over_rfc_length);
      g_assert_cmpuint (reply2->lines->len, ==, 2);

      /* Refused as soon as the line passes the cap, without waiting for its end. */
      consumed = parse_error (over, -1, DOCTOR_ERROR_LINE_TOO_LONG);
      g_assert_cmpuint (consumed, ==, DOCTOR_REPLY_MAX_LINE_LENGTH + 1);
    }

  /* At the cap only the CR of a line end may follow, and then only the LF. */
  {
    g_autofree char *line = make_line ("250 ", DOCTOR_REPLY_MAX_LINE_LENGTH, "\r\r\n");

    parse_error (line, -1, DOCTOR_ERROR_LINE_TOO_LONG);
  }
  {
    g_autofree char *line = make_line ("250 ", DOCTOR_REPLY_MAX_LINE_LENGTH, "\rx\r\n");

    parse_error (line, -1, DOCTOR_ERROR_LINE_TOO_LONG);
  }
  {
    /* A line that is not a reply is refused for its length just the same. */
    g_autofree char *line = make_line ("", DOCTOR_REPLY_MAX_LINE_LENGTH + 1, "\r\n");

    parse_error (line, -1, DOCTOR_ERROR_LINE_TOO_LONG);
  }
}

static void
test_rfc_length (void)
{
  /* RFC 5321 §4.5.3.1.5: 512 octets including CRLF, that is 510 before it. Longer lines are
   * accepted and noted. */
  const gsize over[] = { 511, 512, 513, 1024, 1500, 2047, 2048 };

  {
    g_autofree char *line = make_line ("250 ", 510, "\r\n");
    g_autoptr(DoctorReply) reply = parse_one (line, -1);

    g_assert_false (reply->over_rfc_length);
  }

  for (guint i = 0; i < G_N_ELEMENTS (over); i++)
    {
      g_autofree char *line = make_line ("250 ", over[i], "\r\n");
      g_autoptr(DoctorReply) reply = parse_one (line, -1);

      g_assert_true (reply->over_rfc_length);
      g_assert_false (reply->bare_lf);
      g_assert_cmpuint (strlen (doctor_reply_get_line (reply, 0)), ==, over[i] - 4);
    }

  {
    /* One long line anywhere in the reply is enough. */
    g_autofree char *line = make_line ("250-", 700, "\r\n");
    g_autofree char *input = g_strconcat ("250-a\r\n", line, "250 z\r\n", NULL);
    g_autoptr(DoctorReply) reply = parse_one (input, -1);

    g_assert_cmpuint (reply->lines->len, ==, 3);
    g_assert_true (reply->over_rfc_length);
  }
}

static void
test_endless_line (void)
{
  /* 10 MB of 'A' with no line end: the error comes within the first 8 KiB, nothing past the
   * cap is taken, and every later feed is refused without consuming anything. */
  const gsize total = 10 * 1024 * 1024;
  const gsize chunks[] = { 65536, 4096, 1000, 1 };
  g_autofree guint8 *block = g_malloc (65536);

  memset (block, 'A', 65536);

  for (guint i = 0; i < G_N_ELEMENTS (chunks); i++)
    {
      g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
      g_autofree char *partial = NULL;
      gsize fed = 0;
      gsize taken = 0;
      gsize refused = 0;
      gboolean failed = FALSE;

      while (fed < total)
        {
          g_autoptr(DoctorReply) reply = NULL;
          g_autoptr(GError) error = NULL;
          gsize consumed = 0;
          DoctorParseStatus status;

          status = doctor_reply_parser_feed (parser, block, chunks[i], &consumed, &reply, &error);
          g_assert_null (reply);
          fed += chunks[i];

          if (!failed)
            {
              taken += consumed;
              if (status == DOCTOR_PARSE_ERROR)
                {
                  g_assert_error (error, DOCTOR_ERROR, DOCTOR_ERROR_LINE_TOO_LONG);
                  g_assert_cmpuint (taken, ==, DOCTOR_REPLY_MAX_LINE_LENGTH + 1);
                  g_assert_cmpuint (fed, <=, DOCTOR_REPLY_MAX_LINE_LENGTH + chunks[i]);
                  failed = TRUE;
                }
              else
                {
                  g_assert_cmpint (status, ==, DOCTOR_PARSE_NEED_MORE);
                  g_assert_cmpuint (taken, <=, DOCTOR_REPLY_MAX_LINE_LENGTH);
                }
            }
          else
            {
              g_assert_cmpint (status, ==, DOCTOR_PARSE_ERROR);
              g_assert_nonnull (error);
              g_assert_cmpuint (consumed, ==, 0);
              /* Byte by byte, a thousand refusals show the point; the rest is the same. */
              if (chunks[i] == 1 && ++refused == 1000)
                break;
            }
        }

      g_assert_true (failed);
      if (chunks[i] >= 1000)
        g_assert_cmpuint (fed, >=, total);

      /* What the parser holds stays at the cap. */
      partial = doctor_reply_parser_get_partial (parser);
      g_assert_nonnull (partial);
      g_assert_cmpuint (strlen (partial), <=, DOCTOR_REPLY_MAX_LINE_LENGTH);
    }
}

static void
test_too_many_lines (void)
{
  GString *input = g_string_new (NULL);
  gsize consumed;

  for (guint i = 0; i < 20000; i++)
    g_string_append (input, "250-X\r\n");
  g_string_append (input, "250 end\r\n");

  /* Refused at the first line past the cap, long before the end of the input. */
  consumed = parse_error (input->str, input->len, DOCTOR_ERROR_REPLY_TOO_LONG);
  g_assert_cmpuint (consumed, <=, (DOCTOR_REPLY_MAX_LINES + 1) * 7);
  g_assert_cmpuint (consumed, >, DOCTOR_REPLY_MAX_LINES * 7);

  /* Exactly DOCTOR_REPLY_MAX_LINES lines are accepted, one more is refused. */
  g_string_truncate (input, 0);
  for (guint i = 0; i < DOCTOR_REPLY_MAX_LINES - 1; i++)
    g_string_append (input, "250-X\r\n");
  g_string_append (input, "250 end\r\n");
  {
    g_autoptr(DoctorReply) reply = parse_one (input->str, input->len);

    g_assert_cmpuint (reply->lines->len, ==, DOCTOR_REPLY_MAX_LINES);
  }

  g_string_prepend (input, "250-X\r\n");
  parse_error (input->str, input->len, DOCTOR_ERROR_REPLY_TOO_LONG);

  g_string_free (input, TRUE);
}

static void
test_too_many_bytes (void)
{
  /* Ten lines of 8000 bytes: well under the line cap, over 64 KiB in all. */
  GString *input = g_string_new (NULL);
  gsize consumed;

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *line = make_line (i < 9 ? "250-" : "250 ", 8000, "\r\n");

      g_string_append (input, line);
    }
  consumed = parse_error (input->str, input->len, DOCTOR_ERROR_REPLY_TOO_LONG);
  g_assert_cmpuint (consumed, ==, DOCTOR_REPLY_MAX_BYTES + 1);

  /* Exactly 64 KiB, line ends included, is accepted; one byte more is refused. */
  g_string_truncate (input, 0);
  for (guint i = 0; i < 7; i++)
    {
      g_autofree char *line = make_line ("250-", DOCTOR_REPLY_MAX_LINE_LENGTH, "\r\n");

      g_string_append (input, line);
    }
  {
    g_autofree char *last = make_line ("250 ", DOCTOR_REPLY_MAX_BYTES - input->len - 2, "\r\n");

    g_string_append (input, last);
  }
  g_assert_cmpuint (input->len, ==, DOCTOR_REPLY_MAX_BYTES);
  {
    g_autoptr(DoctorReply) reply = parse_one (input->str, input->len);

    g_assert_cmpuint (reply->lines->len, ==, 8);
  }

  /* The count is per reply: two replies of nearly 64 KiB in a row are both accepted. */
  {
    g_autofree char *twice = g_strconcat (input->str, input->str, NULL);
    Run run = { 0 };

    run_parse (twice, 2 * input->len, 4096, &run);
    g_assert_no_error (run.error);
    g_assert_cmpuint (run.replies->len, ==, 2);
    run_clear (&run);
  }

  /* One byte more, in the last line, which stays under the line cap. */
  g_string_insert_c (input, 7 * (DOCTOR_REPLY_MAX_LINE_LENGTH + 2) + 10, 'A');
  consumed = parse_error (input->str, input->len, DOCTOR_ERROR_REPLY_TOO_LONG);
  g_assert_cmpuint (consumed, ==, DOCTOR_REPLY_MAX_BYTES + 1);

  g_string_free (input, TRUE);
}

/* --- Enhanced status codes --- */

static void
test_enhanced (void)
{
  const struct
  {
    const char *input;
    const char *enhanced;
  } cases[] = {
    { "535 5.7.8 Bad\r\n", "5.7.8" },
    { "535 5.7.8 Username and Password not accepted.\r\n", "5.7.8" },
    { "250-2.0.0 ok\r\n250 2.0.0 done\r\n", "2.0.0" },
    { "534-5.7.9 Application-specific password required. Learn more at\r\n"
      "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor\r\n", "5.7.9" },
    { "550 5.7.30 Basic authentication is not supported for Client Submission.\r\n", "5.7.30" },
    { "535 5.7.139 Authentication unsuccessful\r\n", "5.7.139" },
    { "454 4.7.0 TLS not available\r\n", "4.7.0" },
    { "250 2.0.0\r\n", "2.0.0" },
    { "250 2.0.0\n", "2.0.0" },
    { "550 5.7 x\r\n", NULL },
    { "550 5.7.8x\r\n", NULL },
    { "550 6.0.0 x\r\n", NULL },
    { "550 1.0.0 x\r\n", NULL },
    { "550 5..8 x\r\n", NULL },
    { "550 5.7. x\r\n", NULL },
    { "550 5.1234.1 x\r\n", NULL },
    { "550 5.1.1234 x\r\n", NULL },
    { "550 .5.7.8 x\r\n", NULL },
    { "550 x 5.7.8\r\n", NULL },
    { "550 5.7.8.9 x\r\n", NULL },
    { "250 mx.example.org\r\n", NULL },
    { "250\r\n", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DoctorReply) reply = NULL;
      g_autofree char *escaped = g_strescape (cases[i].input, NULL);

      g_test_message ("input %u: %s", i, escaped);
      reply = parse_one (cases[i].input, -1);
      g_assert_cmpstr (reply->enhanced, ==, cases[i].enhanced);
    }

  /* The enhanced code stays part of the text. */
  {
    g_autoptr(DoctorReply) reply = parse_one (cases[3].input, -1);

    g_assert_cmpuint (reply->code, ==, 534);
    g_assert_cmpuint (reply->lines->len, ==, 2);
    g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==,
                     "5.7.9 Application-specific password required. Learn more at");
  }
}

/* --- Safe text --- */

static void
test_safe_text (void)
{
  const struct
  {
    const char *input;
    gssize      length;
    const char *text;
  } cases[] = {
    /* An ANSI escape shows as text instead of clearing a terminal. */
    { "250 \x1b[2J\r\n", -1, "\\x1b[2J" },
    { "250 \x1b]0;owned\x07 x\r\n", -1, "\\x1b]0;owned\\x07 x" },
    { "250 a\tb\x7f" "c\r\n", -1, "a\\x09b\\x7fc" },
    /* C1 controls, here CSI, are escaped too. */
    { "250 \xc2\x9b" "2J\r\n", -1, "\\u009b2J" },
    /* Pango markup is text: it is kept exactly, never interpreted. */
    { "250 <span foreground=\"green\">Secure</span> &amp; <b>ok</b>\r\n", -1,
      "<span foreground=\"green\">Secure</span> &amp; <b>ok</b>" },
    /* Valid UTF-8 is kept. */
    { "250 Grüße ✓\r\n", -1, "Grüße ✓" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DoctorReply) reply = parse_one (cases[i].input, cases[i].length);

      g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, cases[i].text);
    }

  /* Invalid UTF-8 is replaced, and the result is valid. */
  {
    g_autoptr(DoctorReply) reply = parse_one ("250 a\xff\xfe" "b \xc3\r\n", -1);
    const char *line = doctor_reply_get_line (reply, 0);

    g_assert_true (g_utf8_validate (line, -1, NULL));
    g_assert_null (strchr (line, '\xff'));
    g_assert_nonnull (strstr (line, "\xef\xbf\xbd"));   /* U+FFFD */
    g_assert_true (g_str_has_prefix (line, "a"));
    g_assert_nonnull (strstr (line, "b "));
  }

  /* Every byte value in a line gives valid UTF-8 with no control character left. */
  {
    GString *input = g_string_new ("250 ");
    g_autoptr(DoctorReply) reply = NULL;
    const char *line;

    for (guint c = 1; c < 256; c++)
      if (c != '\n')
        g_string_append_c (input, (char) c);
    g_string_append (input, "\r\n");
    reply = parse_one (input->str, input->len);
    line = doctor_reply_get_line (reply, 0);
    g_assert_true (g_utf8_validate (line, -1, NULL));
    for (const char *p = line; *p; p = g_utf8_next_char (p))
      {
        gunichar c = g_utf8_get_char (p);

        g_assert_false (g_unichar_iscntrl (c));
      }
    g_string_free (input, TRUE);
  }

  /* The function itself. */
  {
    g_autofree char *null = doctor_text_make_safe (NULL, 0);
    g_autofree char *whole = doctor_text_make_safe ("a\rb", -1);
    g_autofree char *part = doctor_text_make_safe ("a\rb", 2);
    g_autofree char *nul = doctor_text_make_safe ("a\0b", 3);

    g_assert_cmpstr (null, ==, "");
    g_assert_cmpstr (whole, ==, "a\\x0db");
    g_assert_cmpstr (part, ==, "a\\x0d");
    g_assert_true (g_utf8_validate (nul, -1, NULL));
    g_assert_cmpuint (strlen (nul), >, 1);
  }
}

/* --- Parser state --- */

static void
test_after_error (void)
{
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
  Run run = { 0 };

  run_feed (parser, "250_x\r\n", 7, WHOLE, &run);
  g_assert_error (run.error, DOCTOR_ERROR, DOCTOR_ERROR_MALFORMED_REPLY);
  run_clear (&run);

  /* Good input after an error is refused, and nothing of it is taken. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(DoctorReply) reply = NULL;
      g_autoptr(GError) error = NULL;
      gsize consumed = 42;

      g_assert_cmpint (doctor_reply_parser_feed (parser, (const guint8 *) "250 ok\r\n", 8,
                                                 &consumed, &reply, &error),
                       ==, DOCTOR_PARSE_ERROR);
      g_assert_error (error, DOCTOR_ERROR, DOCTOR_ERROR_MALFORMED_REPLY);
      g_assert_cmpuint (consumed, ==, 0);
      g_assert_null (reply);
    }

  /* Also with no error to fill in. */
  {
    g_autoptr(DoctorReply) reply = NULL;
    gsize consumed = 42;

    g_assert_cmpint (doctor_reply_parser_feed (parser, (const guint8 *) "250 ok\r\n", 8,
                                               &consumed, &reply, NULL),
                     ==, DOCTOR_PARSE_ERROR);
    g_assert_cmpuint (consumed, ==, 0);
    g_assert_null (reply);
  }

  /* The same after each kind of error. */
  {
    const struct
    {
      const char *input;
      gsize       length;
    } errors[] = {
      { "250 a\0", 6 },
      { "250-a\r\n550 b\r\n", 14 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (errors); i++)
      {
        g_autoptr(DoctorReplyParser) p = doctor_reply_parser_new ();

        run_feed (p, errors[i].input, errors[i].length, WHOLE, &run);
        g_assert_cmpint (run.status, ==, DOCTOR_PARSE_ERROR);
        run_clear (&run);
        run_feed (p, "250 ok\r\n", 8, WHOLE, &run);
        g_assert_cmpint (run.status, ==, DOCTOR_PARSE_ERROR);
        g_assert_cmpuint (run.consumed, ==, 0);
        g_assert_cmpuint (run.replies->len, ==, 0);
        run_clear (&run);
      }
  }
}

static void
test_partial (void)
{
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
  Run run = { 0 };

  g_assert_true (doctor_reply_parser_is_idle (parser));
  g_assert_null (doctor_reply_parser_get_partial (parser));

  run_feed (parser, "250-fir", 7, WHOLE, &run);
  g_assert_cmpint (run.status, ==, DOCTOR_PARSE_NEED_MORE);
  g_assert_false (doctor_reply_parser_is_idle (parser));
  {
    g_autofree char *partial = doctor_reply_parser_get_partial (parser);

    g_assert_cmpstr (partial, ==, "250-fir");
  }

  /* A complete continuation line and nothing after it: still not idle, and shown as a
   * continuation line, so that it does not look like a finished reply. */
  run_feed (parser, "st\r\n", 4, WHOLE, &run);
  g_assert_cmpint (run.status, ==, DOCTOR_PARSE_NEED_MORE);
  g_assert_false (doctor_reply_parser_is_idle (parser));
  {
    g_autofree char *partial = doctor_reply_parser_get_partial (parser);

    g_assert_cmpstr (partial, ==, "250-first");
  }

  run_feed (parser, "250-second\r\n250 \x1b[", 18, WHOLE, &run);
  {
    g_autofree char *partial = doctor_reply_parser_get_partial (parser);

    g_assert_cmpstr (partial, ==, "250-first\n250-second\n250 \\x1b[");
  }

  run_feed (parser, "0m\r\n", 4, WHOLE, &run);
  g_assert_cmpint (run.status, ==, DOCTOR_PARSE_REPLY);
  g_assert_cmpuint (run.replies->len, ==, 1);
  g_assert_true (doctor_reply_parser_is_idle (parser));
  g_assert_null (doctor_reply_parser_get_partial (parser));
  {
    g_autofree char *text = doctor_reply_to_string (g_ptr_array_index (run.replies, 0));

    g_assert_cmpstr (text, ==, "250-first\n250-second\n250 \\x1b[0m");
  }

  run_clear (&run);
}

static void
test_to_string (void)
{
  const struct
  {
    const char *input;
    const char *text;
    const char *joined;
  } cases[] = {
    { "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
      "250-mx.example\n250-PIPELINING\n250 8BITMIME", "mx.example PIPELINING 8BITMIME" },
    { "250 ok\r\n", "250 ok", "ok" },
    { "250\r\n", "250", "" },
    { "250 \r\n", "250", "" },
    { "250-\r\n250 x\r\n", "250-\n250 x", "x" },
    { "250-a\r\n250\r\n", "250-a\n250", "a" },
    { "250-a\r\n250-\r\n250 b\r\n", "250-a\n250-\n250 b", "a b" },
    { "535 5.7.8 Bad\n", "535 5.7.8 Bad", "5.7.8 Bad" },
    { "220 \x1b[2J hi\r\n", "220 \\x1b[2J hi", "\\x1b[2J hi" },
    { "250  two spaces\r\n", "250  two spaces", " two spaces" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(DoctorReply) reply = parse_one (cases[i].input, -1);
      g_autoptr(DoctorReply) again = NULL;
      g_autofree char *text = doctor_reply_to_string (reply);
      g_autofree char *joined = doctor_reply_join_text (reply);
      g_autofree char *wire = NULL;
      g_autofree char *text_again = NULL;
      g_auto(GStrv) lines = NULL;

      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_cmpstr (joined, ==, cases[i].joined);

      /* Round trip: the string, sent back as lines, parses to the same reply. */
      lines = g_strsplit (text, "\n", -1);
      wire = g_strjoinv ("\r\n", lines);
      {
        g_autofree char *with_end = g_strconcat (wire, "\r\n", NULL);

        again = parse_one (with_end, -1);
      }
      text_again = doctor_reply_to_string (again);
      g_assert_cmpstr (text_again, ==, text);
      g_assert_cmpuint (again->code, ==, reply->code);
      g_assert_cmpuint (again->lines->len, ==, reply->lines->len);
      for (guint j = 0; j < reply->lines->len; j++)
        g_assert_cmpstr (doctor_reply_get_line (again, j), ==, doctor_reply_get_line (reply, j));
      g_assert_cmpstr (again->enhanced, ==, reply->enhanced);
    }

  /* A reply built by hand. */
  {
    g_autoptr(DoctorReply) reply = doctor_reply_new (354);
    g_autofree char *empty = doctor_reply_to_string (reply);
    g_autofree char *empty_joined = doctor_reply_join_text (reply);
    g_autofree char *text = NULL;

    g_assert_cmpstr (empty, ==, "");
    g_assert_cmpstr (empty_joined, ==, "");
    g_assert_null (doctor_reply_get_line (reply, 0));

    g_ptr_array_add (reply->lines, g_strdup ("Start mail input"));
    text = doctor_reply_to_string (reply);
    g_assert_cmpstr (text, ==, "354 Start mail input");
  }
}

static void
test_reset (void)
{
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
  Run run = { 0 };

  /* Reset in the middle of a reply forgets it. */
  run_feed (parser, "250-a\r\n250 b", 12, WHOLE, &run);
  g_assert_false (doctor_reply_parser_is_idle (parser));
  doctor_reply_parser_reset (parser);
  g_assert_true (doctor_reply_parser_is_idle (parser));
  g_assert_null (doctor_reply_parser_get_partial (parser));

  run_feed (parser, "220 new\r\n", 9, WHOLE, &run);
  g_assert_cmpint (run.status, ==, DOCTOR_PARSE_REPLY);
  g_assert_cmpuint (run.replies->len, ==, 1);
  {
    const DoctorReply *reply = g_ptr_array_index (run.replies, 0);

    g_assert_cmpuint (reply->code, ==, 220);
    g_assert_cmpuint (reply->lines->len, ==, 1);
    g_assert_cmpstr (doctor_reply_get_line (reply, 0), ==, "new");
  }
  run_clear (&run);

  /* Reset after an error makes the parser usable again. */
  run_feed (parser, "250 a\0", 6, WHOLE, &run);
  g_assert_error (run.error, DOCTOR_ERROR, DOCTOR_ERROR_NUL_BYTE);
  run_clear (&run);
  doctor_reply_parser_reset (parser);
  g_assert_true (doctor_reply_parser_is_idle (parser));
  run_feed (parser, "250 ok\r\n", 8, WHOLE, &run);
  g_assert_no_error (run.error);
  g_assert_cmpuint (run.replies->len, ==, 1);
  run_clear (&run);

  /* Reset also forgets the bytes counted towards the reply cap. */
  {
    g_autofree char *line = make_line ("250-", 8000, "\r\n");

    for (guint i = 0; i < 7; i++)
      run_feed (parser, line, strlen (line), WHOLE, &run);
    g_assert_no_error (run.error);
    doctor_reply_parser_reset (parser);
    for (guint i = 0; i < 7; i++)
      run_feed (parser, line, strlen (line), WHOLE, &run);
    run_feed (parser, "250 end\r\n", 9, WHOLE, &run);
    g_assert_no_error (run.error);
    g_assert_cmpuint (run.replies->len, ==, 1);
    g_assert_cmpuint (((DoctorReply *) g_ptr_array_index (run.replies, 0))->lines->len, ==, 8);
    run_clear (&run);
  }

  /* Reset on an idle parser is harmless. */
  doctor_reply_parser_reset (parser);
  doctor_reply_parser_reset (parser);
  g_assert_true (doctor_reply_parser_is_idle (parser));

  /* Freeing NULL is allowed. */
  doctor_reply_parser_free (NULL);
  doctor_reply_free (NULL);
}

static void
test_chunking_invariant (void)
{
  /* Good and bad inputs alike give the same replies, error and byte count in any chunking. */
  const struct
  {
    const char *input;
    gsize       length;
  } cases[] = {
#define CASE(s) { s, sizeof (s) - 1 }
    CASE ("220 hi\r\n250-a\n250 b\r\n"),
    CASE ("250 x\r\r\n250 y\r\n"),
    CASE ("250-x\r\n550 y\r\n250 z\r\n"),
    CASE ("250 ok\r\n250 a\0b\r\n"),
    CASE ("535 5.7.8 Bad\r\n250 \xff\r\n"),
    CASE ("250 ok\r\n2"),
    CASE ("250-a\r\n250-b\r\n"),
#undef CASE
  };
  const gsize chunks[] = { WHOLE, 1, 2, 3, 5, 8 };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *expected = NULL;

      for (guint j = 0; j < G_N_ELEMENTS (chunks); j++)
        {
          Run run = { 0 };
          g_autofree char *got = NULL;

          run_parse (cases[i].input, cases[i].length, chunks[j], &run);
          got = run_describe (&run);
          if (expected == NULL)
            expected = g_steal_pointer (&got);
          else
            g_assert_cmpstr (got, ==, expected);
          run_clear (&run);
        }
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reply/multiline/whole-and-bytewise", test_multiline);
  g_test_add_func ("/reply/multiline/every-chunk-size", test_multiline_chunked);
  g_test_add_func ("/reply/back-to-back", test_back_to_back);
  g_test_add_func ("/reply/empty-feed", test_empty_feed);
  g_test_add_func ("/reply/no-text", test_no_text);
  g_test_add_func ("/reply/malformed/separator", test_bad_separator);
  g_test_add_func ("/reply/malformed/message-escaped", test_bad_separator_message);
  g_test_add_func ("/reply/malformed/mixed-codes", test_mixed_codes);
  g_test_add_func ("/reply/codes", test_codes_edges);
  g_test_add_func ("/reply/line-end/bare-lf", test_bare_lf);
  g_test_add_func ("/reply/line-end/cr", test_cr);
  g_test_add_func ("/reply/nul-byte", test_nul_byte);
  g_test_add_func ("/reply/cap/line", test_line_cap);
  g_test_add_func ("/reply/cap/rfc-length", test_rfc_length);
  g_test_add_func ("/reply/cap/endless-line", test_endless_line);
  g_test_add_func ("/reply/cap/lines", test_too_many_lines);
  g_test_add_func ("/reply/cap/bytes", test_too_many_bytes);
  g_test_add_func ("/reply/enhanced", test_enhanced);
  g_test_add_func ("/reply/safe-text", test_safe_text);
  g_test_add_func ("/reply/parser/after-error", test_after_error);
  g_test_add_func ("/reply/parser/partial", test_partial);
  g_test_add_func ("/reply/parser/reset", test_reset);
  g_test_add_func ("/reply/parser/chunking", test_chunking_invariant);
  g_test_add_func ("/reply/to-string", test_to_string);

  return g_test_run ();
}
