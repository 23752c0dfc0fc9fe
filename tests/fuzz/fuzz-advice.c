/* fuzz-advice.c: the advice for every reason, refined by a server reply made of fuzzed text.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Byte 0 chooses the reason (one of doctor_reason_list()), byte 1 the target (security mode,
 * port, host, user) and whether there is a reply at all. The rest is the server's text: it is
 * given to the reply parser, and the first reply it makes is the one the advice sees, with its
 * enhanced status code. If the parser makes none, a reply is built from the lines directly
 * (code from byte 2, no enhanced code), the way doctor-reply.h describes one. Every advice
 * item must be whole UTF-8 text.
 */
#include <glib.h>

#include "doctor-advice.h"
#include "doctor-check.h"
#include "doctor-reply.h"
#include "fuzz.h"

static const char *const check_ids[] = {
  "dns", "connect", "tls", "greeting", "ehlo", "starttls", "certificate", "auth", "send",
};

static const char *const hosts[] = {
  "smtp.example.com", "127.0.0.1", "::1", "smtp.gmail.com", "smtp.sendgrid.net",
  "smtp.office365.com", "email-smtp.eu-west-1.amazonaws.com", "x",
};

static DoctorReply *
reply_from_parser (const guint8 *data,
                   gsize         size)
{
  g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
  g_autoptr(GError) error = NULL;
  DoctorReply *reply = NULL;
  gsize consumed = 0;

  /* All the bytes at once: a reply, or every byte consumed without one, or an error. */
  if (doctor_reply_parser_feed (parser, data, size, &consumed, &reply, &error) ==
      DOCTOR_PARSE_REPLY)
    return reply;
  g_assert_null (reply);
  return NULL;
}

static DoctorReply *
reply_from_lines (guint         code,
                  const guint8 *data,
                  gsize         size)
{
  DoctorReply *reply = doctor_reply_new (code);
  gsize start = 0;

  for (gsize i = 0; i <= size && reply->lines->len < DOCTOR_REPLY_MAX_LINES; i++)
    {
      if (i == size || data[i] == '\n')
        {
          g_ptr_array_add (reply->lines,
                           doctor_text_make_safe ((const char *) data + start, i - start));
          start = i + 1;
        }
    }
  return reply;
}

static void
check_text (const char *text)
{
  if (text != NULL)
    g_assert_true (g_utf8_validate (text, -1, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *const *reasons = doctor_reason_list ();
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorCheck) check = NULL;
  guint n_reasons = g_strv_length ((char **) reasons);
  const char *reason;
  GPtrArray *advice;
  guint8 choice;

  if (size < 3 || n_reasons == 0)
    return 0;

  reason = reasons[data[0] % n_reasons];
  choice = data[1];

  target = doctor_target_new (hosts[choice & 7], (choice & 0x08) ? 587 : 0,
                              (DoctorSecurity) ((choice >> 4) % 3));
  if (choice & 0x40)
    target->user = g_strdup ("user@example.com");

  if ((choice & 0x80) == 0)
    {
      reply = reply_from_parser (data + 3, size - 3);
      if (reply == NULL)
        reply = reply_from_lines (200 + data[2] % 400, data + 3, size - 3);
    }

  check = doctor_check_new (check_ids[data[2] % G_N_ELEMENTS (check_ids)]);
  doctor_advice_add (check, reason, target, reply);

  advice = doctor_check_get_advice (check);
  g_assert_nonnull (advice);
  for (guint i = 0; i < advice->len; i++)
    {
      const DoctorAdvice *item = g_ptr_array_index (advice, i);

      check_text (item->title);
      check_text (item->text);
      for (guint c = 0; item->commands != NULL && item->commands[c] != NULL; c++)
        check_text (item->commands[c]);
    }
  return 0;
}
