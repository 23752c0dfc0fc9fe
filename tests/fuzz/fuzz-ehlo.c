/* fuzz-ehlo.c: the EHLO capability parser (extensions, keyword lookup, AUTH mechanisms).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Byte 0 chooses the keyword looked up besides the usual ones (its value modulo the list) and,
 * with its high bit, that the rest is cut into lines directly instead of going through the
 * reply parser, so that replies the parser would refuse still reach the capability code. The
 * rest is the server's EHLO reply. Checked: no more extensions than lines, every extension and
 * mechanism whole UTF-8 text, a mechanism never empty nor holding a space, a keyword found
 * only when an extension starts with it, and every mechanism on some AUTH line.
 */
#include <glib.h>
#include <string.h>

#include "doctor-capabilities-private.h"
#include "doctor-reply.h"
#include "fuzz.h"

static const char *const keywords[] = {
  "STARTTLS", "AUTH", "SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
  "CHUNKING", "DSN", "XPIPELINING", "XOAUTH2", "", "A", "AUTH=",
};

static DoctorReply *
reply_from_lines (const guint8 *data,
                  gsize         size)
{
  DoctorReply *reply = doctor_reply_new (250);
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
check_lookup (GPtrArray  *capabilities,
              const char *keyword)
{
  const char *params = doctor_capabilities_lookup (capabilities, keyword);
  gboolean found = FALSE;

  if (params == NULL)
    return;

  /* The parameters point into an extension that starts with the keyword. */
  for (guint i = 0; i < capabilities->len; i++)
    {
      const char *line = g_ptr_array_index (capabilities, i);
      gsize length = strlen (line);

      if (params >= line && params <= line + length)
        {
          g_assert_cmpint (g_ascii_strncasecmp (line, keyword, strlen (keyword)), ==, 0);
          found = TRUE;
          break;
        }
    }
  g_assert_true (found);
  g_assert_true (g_utf8_validate (params, -1, NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(DoctorReply) reply = NULL;
  g_autoptr(GPtrArray) capabilities = NULL;
  g_auto(GStrv) mechanisms = NULL;
  guint auth_lines = 0;

  if (size < 1)
    return 0;

  if ((data[0] & 0x80) == 0)
    {
      g_autoptr(DoctorReplyParser) parser = doctor_reply_parser_new ();
      g_autoptr(GError) error = NULL;
      gsize consumed = 0;

      if (doctor_reply_parser_feed (parser, data + 1, size - 1, &consumed, &reply, &error) !=
          DOCTOR_PARSE_REPLY)
        return 0;
    }
  else
    {
      reply = reply_from_lines (data + 1, size - 1);
    }

  capabilities = doctor_capabilities_parse (reply);
  g_assert_nonnull (capabilities);
  g_assert_cmpuint (capabilities->len, <, MAX (reply->lines->len, 1));
  for (guint i = 0; i < capabilities->len; i++)
    {
      const char *line = g_ptr_array_index (capabilities, i);

      g_assert_nonnull (line);
      g_assert_cmpuint (*line, !=, '\0');
      g_assert_true (g_utf8_validate (line, -1, NULL));
      if (g_ascii_strncasecmp (line, "AUTH", 4) == 0 && (line[4] == ' ' || line[4] == '='))
        auth_lines++;
    }

  for (guint k = 0; k < G_N_ELEMENTS (keywords); k++)
    check_lookup (capabilities, keywords[k]);
  check_lookup (capabilities, keywords[data[0] % G_N_ELEMENTS (keywords)]);
  g_assert_null (doctor_capabilities_lookup (NULL, "AUTH"));

  mechanisms = doctor_capabilities_auth_mechanisms (capabilities);
  g_assert_nonnull (mechanisms);
  if (auth_lines == 0)
    g_assert_null (mechanisms[0]);
  for (guint m = 0; mechanisms[m] != NULL; m++)
    {
      g_assert_cmpuint (mechanisms[m][0], !=, '\0');
      g_assert_null (strchr (mechanisms[m], ' '));
      g_assert_true (g_utf8_validate (mechanisms[m], -1, NULL));
    }

  {
    g_auto(GStrv) none = doctor_capabilities_auth_mechanisms (NULL);
    g_assert_null (none[0]);
  }
  return 0;
}
