/* test-message.c: the DATA payload on the wire: CRLF line ends, dot-stuffing, the final dot.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>

#include "doctor-smtp-stream-private.h"

static void
check_encoding (const char *in,
                const char *expected)
{
  gsize length = 0;
  g_autofree char *out = doctor_smtp_encode_message (in, &length);

  g_assert_cmpstr (out, ==, expected);
  g_assert_cmpuint (length, ==, strlen (expected));
}

static void
test_dot_stuffing (void)
{
  check_encoding ("a\r\n.b\r\n", "a\r\n..b\r\n.");
  check_encoding (".\r\n", "..\r\n.");
  check_encoding ("..x\n", "...x\r\n.");
  check_encoding ("x.\r\ny", "x.\r\ny\r\n.");
  /* Only a dot at the start of a line is doubled. */
  check_encoding ("a.b\r\n", "a.b\r\n.");
}

static void
test_line_ends (void)
{
  check_encoding ("a\nb\n", "a\r\nb\r\n.");
  check_encoding ("a\rb\r\n", "a\r\nb\r\n.");
  check_encoding ("no end", "no end\r\n.");
  check_encoding ("", ".");
  /* A bare CR followed by a dot line still counts as a line start. */
  check_encoding ("a\r.b", "a\r\n..b\r\n.");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/message/dot-stuffing", test_dot_stuffing);
  g_test_add_func ("/message/line-ends", test_line_ends);

  return g_test_run ();
}
