/* test-target.c: targets and the checks on user input (doctor-target.c).
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Covers the splitting of "host[:port]" input, doctor_target_validate() (every field that goes
 * on the wire is refused locally when it holds a line break or another control character, so
 * that user input cannot inject SMTP commands), the security mode names and default ports,
 * copying, and the defaults. See /work/shared/research/reliability-anchors.md, A4 item 45.
 */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <glib-object.h>

#include "doctor-error.h"
#include "doctor-target.h"

/* A target that passes validation, with every optional field set. */
static DoctorTarget *
make_good_target (void)
{
  DoctorTarget *target = doctor_target_new ("mail.example.org", 587, DOCTOR_SECURITY_STARTTLS);

  target->user = g_strdup ("alice@example.org");
  doctor_target_set_secret (target, "correct horse battery staple");
  target->helo_name = g_strdup ("client.example.org");
  target->mail_from = g_strdup ("alice@example.org");
  target->rcpt_to = g_strdup ("bob@example.net");

  return target;
}

static void
assert_invalid (const DoctorTarget *target)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (doctor_target_validate (target, &error));
  g_assert_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  /* The message never carries the offending control characters itself. */
  g_assert_null (strchr (error->message, '\r'));
  g_assert_null (strchr (error->message, '\n'));
  g_assert_null (strchr (error->message, '\x1b'));
  g_test_message ("refused: %s", error->message);

  /* And without an error to fill in. */
  g_assert_false (doctor_target_validate (target, NULL));
}

static void
assert_valid (const DoctorTarget *target)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (doctor_target_validate (target, &error));
  g_assert_no_error (error);
}

/* --- doctor_parse_host_port --- */

static void
test_host_port_good (void)
{
  const struct
  {
    const char *input;
    const char *host;
    guint16     port;
  } cases[] = {
    { "mail.example.org", "mail.example.org", 0 },
    { "mail.example.org:587", "mail.example.org", 587 },
    { "mail.example.org:1", "mail.example.org", 1 },
    { "mail.example.org:65535", "mail.example.org", 65535 },
    { "192.0.2.1", "192.0.2.1", 0 },
    { "192.0.2.1:25", "192.0.2.1", 25 },
    { "[::1]:465", "::1", 465 },
    { "[::1]", "::1", 0 },
    { "::1", "::1", 0 },
    { "2001:db8::25", "2001:db8::25", 0 },
    { "[2001:db8::25]:2525", "2001:db8::25", 2525 },
    { "bücher.example:465", "bücher.example", 465 },
    { "localhost", "localhost", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *host = NULL;
      guint16 port = 42;

      g_test_message ("input: %s", cases[i].input);
      g_assert_true (doctor_parse_host_port (cases[i].input, &host, &port, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (host, ==, cases[i].host);
      g_assert_cmpuint (port, ==, cases[i].port);
    }
}

static void
test_host_port_bad (void)
{
  const char *inputs[] = {
    "", "host:0", "host:65536", "host:99999999999999999999", "host:abc", "host:", "host:-1",
    "host:+25", "host: 25", "host:25 ", "host:0x19", "[::1", "[::1]:", "[::1]x", "[::1]:0",
    "[::1]:abc", "[]", "[]:25", ":25", ":",
  };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GError) error = NULL;
      char *host = (char *) "untouched";
      guint16 port = 42;

      g_test_message ("input: \"%s\"", inputs[i]);
      g_assert_false (doctor_parse_host_port (inputs[i], &host, &port, &error));
      g_assert_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT);
      g_assert_null (host);
      g_assert_cmpuint (port, ==, 0);
    }

  /* No input at all, and no error to fill in. */
  {
    char *host = NULL;
    guint16 port = 42;

    g_assert_false (doctor_parse_host_port (NULL, &host, &port, NULL));
    g_assert_null (host);
    g_assert_false (doctor_parse_host_port ("host:0", &host, &port, NULL));
    g_assert_null (host);
  }
}

/* --- doctor_target_validate --- */

static void
test_validate_good (void)
{
  g_autoptr(DoctorTarget) target = make_good_target ();
  g_autoptr(DoctorTarget) bare = doctor_target_new ("mail.example.org", 0,
                                                    DOCTOR_SECURITY_TLS);

  assert_valid (target);
  assert_valid (bare);

  /* A user name and a password of the largest accepted sizes. */
  {
    g_autofree char *user = g_strnfill (255, 'u');
    g_autofree char *secret = g_strnfill (1024, 'p');

    g_free (target->user);
    target->user = g_strdup (user);
    doctor_target_set_secret (target, secret);
    assert_valid (target);
  }

  /* Non-ASCII text is fine where it is valid UTF-8. */
  doctor_target_set_secret (target, "pässwörd ✓");
  assert_valid (target);

  /* A password may hold characters that no wire field may: it only travels in base64. */
  doctor_target_set_secret (target, "with space and\ttab");
  assert_valid (target);
}

static void
test_validate_hosts (void)
{
  const char *good[] = {
    "mail.example.org", "bücher.example", "xn--bcher-kva.example", "MAIL.EXAMPLE.ORG",
    "localhost", "mail.example.org.", "smtp-relay_1.example", "192.0.2.1", "127.0.0.1", "::1",
    "2001:db8::25", "::ffff:192.0.2.1",
  };
  const char *bad[] = {
    "mail example.org", " mail.example.org", "mail.example.org ", "mail.example.org\r\n",
    "mail.example.org\r\nRCPT TO:<victim@example.net>", "mail.example.org\nQUIT",
    "mail.example.org\x01", "mail\x1b[2J.example.org", "mail\x7f.example.org",
    "mail\tlocal", "\xff\xfe.example", "[::1]", "mail.example.org:25", "mail/example",
    "mail<b>.example", "-mail.example.org", ".example.org", "user@mail.example.org", "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(DoctorTarget) target = doctor_target_new (good[i], 0, DOCTOR_SECURITY_STARTTLS);

      g_test_message ("good host: %s", good[i]);
      assert_valid (target);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(DoctorTarget) target = doctor_target_new (bad[i], 0, DOCTOR_SECURITY_STARTTLS);
      g_autofree char *escaped = g_strescape (bad[i], NULL);

      g_test_message ("bad host: %s", escaped);
      assert_invalid (target);
    }

  /* No host at all. */
  {
    g_autoptr(DoctorTarget) target = doctor_target_new (NULL, 0, DOCTOR_SECURITY_STARTTLS);

    assert_invalid (target);
  }

  /* A name over 253 bytes. */
  {
    GString *name = g_string_new (NULL);
    g_autoptr(DoctorTarget) target = NULL;

    while (name->len < 250)
      g_string_append (name, "abcdefghi.");
    g_string_append (name, "example");
    target = doctor_target_new (name->str, 0, DOCTOR_SECURITY_STARTTLS);
    assert_invalid (target);
    g_string_free (name, TRUE);
  }
}

/* Values that must never reach the wire in a command argument. */
static const char *const wire_attacks[] = {
  "a\rb", "a\nb", "a\r\nb", "x\r\nRCPT TO:<victim@example.net>", "x\r\n.\r\nQUIT\r\n",
  "a\x01" "b", "a\tb", "a\x1b[2Jb", "a\x7f" "b", "a\x0b" "b", "a\x0c" "b", "a\x1f" "b",
  "\r", "\n",
};

static void
test_validate_injection (void)
{
  /* Every field that goes into an SMTP command, with every attack. The address fields get a
   * valid address around the attack, so that only the control character can be the cause. */
  enum { HELO, USER, FROM, TO, N_FIELDS };

  for (guint field = 0; field < N_FIELDS; field++)
    for (guint i = 0; i < G_N_ELEMENTS (wire_attacks); i++)
      {
        g_autoptr(DoctorTarget) target = make_good_target ();
        g_autofree char *address = g_strconcat ("alice", wire_attacks[i], "@example.org", NULL);
        g_autofree char *escaped = g_strescape (wire_attacks[i], NULL);

        g_test_message ("field %u: %s", field, escaped);
        switch (field)
          {
          case HELO:
            g_free (target->helo_name);
            target->helo_name = g_strdup (wire_attacks[i]);
            break;
          case USER:
            g_free (target->user);
            target->user = g_strdup (wire_attacks[i]);
            break;
          case FROM:
            g_free (target->mail_from);
            target->mail_from = g_steal_pointer (&address);
            break;
          case TO:
            g_free (target->rcpt_to);
            target->rcpt_to = g_steal_pointer (&address);
            break;
          default:
            g_assert_not_reached ();
          }

        assert_invalid (target);
      }

  /* The anchor's own examples: curl test2110, a MAIL FROM with an embedded CRLF. */
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    g_free (target->mail_from);
    target->mail_from = g_strdup ("alice@example.org>\r\nRCPT TO:<victim@example.net");
    assert_invalid (target);
  }
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    g_free (target->helo_name);
    target->helo_name = g_strdup ("client\r\nMAIL FROM:<x@example.org>");
    assert_invalid (target);
  }
}

static void
test_validate_fields (void)
{
  /* EHLO names: one word. */
  {
    const char *bad[] = { "", "two words", " lead", "trail " };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(DoctorTarget) target = make_good_target ();

        g_free (target->helo_name);
        target->helo_name = g_strdup (bad[i]);
        assert_invalid (target);
      }
  }
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    g_free (target->helo_name);
    target->helo_name = g_strdup ("[192.0.2.1]");
    assert_valid (target);
  }

  /* User names: 1 to 255 bytes, valid UTF-8. */
  {
    g_autofree char *long_user = g_strnfill (256, 'u');
    const char *bad[] = { "", long_user, "al\xffice" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(DoctorTarget) target = make_good_target ();

        g_free (target->user);
        target->user = g_strdup (bad[i]);
        assert_invalid (target);
      }
  }

  /* Passwords: at most 1024 bytes, valid UTF-8. */
  {
    g_autoptr(DoctorTarget) target = make_good_target ();
    g_autofree char *long_secret = g_strnfill (1025, 'p');

    doctor_target_set_secret (target, long_secret);
    assert_invalid (target);
    doctor_target_set_secret (target, "p\xff\xfe");
    assert_invalid (target);
    doctor_target_set_secret (target, NULL);
    g_assert_null (target->secret);
    assert_valid (target);
  }
}

static void
test_validate_addresses (void)
{
  const char *bad[] = {
    "alice", "alice.example.org", "@example.org", "alice@", "@", "<alice@example.org>",
    "alice @example.org", "alice@example.org ", "Alice <alice@example.org>", "al\tice@example.org",
    "alice@exa\xffmple.org", "",
  };
  const char *good[] = {
    "alice@example.org", "alice+tag@example.org", "\"a@b\"@example.org", "postmaster@[192.0.2.1]",
    "jörg@bücher.example",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(DoctorTarget) from = make_good_target ();
      g_autoptr(DoctorTarget) to = make_good_target ();
      g_autofree char *escaped = g_strescape (bad[i], NULL);

      g_test_message ("bad address: %s", escaped);
      g_free (from->mail_from);
      from->mail_from = g_strdup (bad[i]);
      assert_invalid (from);
      g_free (to->rcpt_to);
      to->rcpt_to = g_strdup (bad[i]);
      assert_invalid (to);
    }

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(DoctorTarget) target = make_good_target ();

      g_free (target->mail_from);
      target->mail_from = g_strdup (good[i]);
      g_free (target->rcpt_to);
      target->rcpt_to = g_strdup (good[i]);
      assert_valid (target);
    }

  /* A test message needs both a sender and a recipient. */
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    g_clear_pointer (&target->rcpt_to, g_free);
    g_assert_false (doctor_target_wants_message (target));
    assert_invalid (target);
  }
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    g_clear_pointer (&target->mail_from, g_free);
    g_assert_false (doctor_target_wants_message (target));
    assert_invalid (target);
  }
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    g_assert_true (doctor_target_wants_message (target));
    g_clear_pointer (&target->mail_from, g_free);
    g_clear_pointer (&target->rcpt_to, g_free);
    g_assert_false (doctor_target_wants_message (target));
    assert_valid (target);
  }
}

static void
test_validate_ca_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  int fd;

  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    target->ca_file = g_strdup ("/nonexistent/smtp-doctor/ca.pem");
    assert_invalid (target);
  }
  {
    /* A directory is not a CA file. */
    g_autoptr(DoctorTarget) target = make_good_target ();

    target->ca_file = g_strdup (g_get_tmp_dir ());
    assert_invalid (target);
  }
  {
    /* A path that is not UTF-8 still gives a UTF-8 message. */
    g_autoptr(DoctorTarget) target = make_good_target ();

    target->ca_file = g_strdup ("/nonexistent/\xff\xfe.pem");
    assert_invalid (target);
  }

  fd = g_file_open_tmp ("test-target-XXXXXX.pem", &path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_close (fd, NULL);
  {
    g_autoptr(DoctorTarget) target = make_good_target ();

    target->ca_file = g_strdup (path);
    assert_valid (target);
  }
  g_assert_cmpint (g_unlink (path), ==, 0);
}

/* --- Security modes, ports, defaults --- */

static void
test_security_strings (void)
{
  const struct
  {
    const char     *string;
    DoctorSecurity  security;
  } good[] = {
    { "starttls", DOCTOR_SECURITY_STARTTLS },
    { "STARTTLS", DOCTOR_SECURITY_STARTTLS },
    { "StartTLS", DOCTOR_SECURITY_STARTTLS },
    { "tls", DOCTOR_SECURITY_TLS },
    { "TLS", DOCTOR_SECURITY_TLS },
    { "ssl", DOCTOR_SECURITY_TLS },
    { "SSL", DOCTOR_SECURITY_TLS },
    { "none", DOCTOR_SECURITY_NONE },
    { "plain", DOCTOR_SECURITY_NONE },
    { "NONE", DOCTOR_SECURITY_NONE },
  };
  const char *bad[] = {
    "bogus", "", "start-tls", "starttls ", " tls", "tls1.2", "ssl/tls", "nonee", "smtps",
  };
  const DoctorSecurity all[] = {
    DOCTOR_SECURITY_STARTTLS, DOCTOR_SECURITY_TLS, DOCTOR_SECURITY_NONE,
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      DoctorSecurity security = (DoctorSecurity) -1;

      g_assert_true (doctor_security_from_string (good[i].string, &security));
      g_assert_cmpint (security, ==, good[i].security);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      DoctorSecurity security = DOCTOR_SECURITY_TLS;

      g_assert_false (doctor_security_from_string (bad[i], &security));
      g_assert_cmpint (security, ==, DOCTOR_SECURITY_TLS);   /* left alone */
    }

  g_assert_cmpstr (doctor_security_to_string (DOCTOR_SECURITY_STARTTLS), ==, "starttls");
  g_assert_cmpstr (doctor_security_to_string (DOCTOR_SECURITY_TLS), ==, "tls");
  g_assert_cmpstr (doctor_security_to_string (DOCTOR_SECURITY_NONE), ==, "none");

  /* to_string and from_string round trip, and every mode has a label. */
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      DoctorSecurity security = (DoctorSecurity) -1;
      const char *label = doctor_security_get_label (all[i]);

      g_assert_true (doctor_security_from_string (doctor_security_to_string (all[i]), &security));
      g_assert_cmpint (security, ==, all[i]);
      g_assert_nonnull (label);
      g_assert_cmpstr (label, !=, "");
    }
}

static void
test_default_ports (void)
{
  g_assert_cmpuint (doctor_security_default_port (DOCTOR_SECURITY_STARTTLS), ==, 587);
  g_assert_cmpuint (doctor_security_default_port (DOCTOR_SECURITY_TLS), ==, 465);
  g_assert_cmpuint (doctor_security_default_port (DOCTOR_SECURITY_NONE), ==, 25);

  {
    g_autoptr(DoctorTarget) starttls = doctor_target_new ("h", 0, DOCTOR_SECURITY_STARTTLS);
    g_autoptr(DoctorTarget) tls = doctor_target_new ("h", 0, DOCTOR_SECURITY_TLS);
    g_autoptr(DoctorTarget) none = doctor_target_new ("h", 0, DOCTOR_SECURITY_NONE);
    g_autoptr(DoctorTarget) custom = doctor_target_new ("h", 2525, DOCTOR_SECURITY_TLS);

    g_assert_cmpuint (doctor_target_get_port (starttls), ==, 587);
    g_assert_cmpuint (doctor_target_get_port (tls), ==, 465);
    g_assert_cmpuint (doctor_target_get_port (none), ==, 25);
    g_assert_cmpuint (doctor_target_get_port (custom), ==, 2525);
    g_assert_cmpuint (custom->port, ==, 2525);
    g_assert_cmpuint (starttls->port, ==, 0);   /* the default is computed, not stored */
  }
}

static void
test_timeout (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("h", 0, DOCTOR_SECURITY_STARTTLS);

  g_assert_cmpuint (target->timeout_ms, ==, 0);
  g_assert_cmpuint (doctor_target_get_timeout_ms (target), ==,
                    DOCTOR_DEFAULT_TIMEOUT_SECONDS * 1000);
  g_assert_cmpuint (doctor_target_get_timeout_ms (target), ==, 30000);

  target->timeout_ms = 1500;
  g_assert_cmpuint (doctor_target_get_timeout_ms (target), ==, 1500);
}

static void
test_new_defaults (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("mail.example.org", 0,
                                                      DOCTOR_SECURITY_STARTTLS);

  g_assert_cmpstr (target->host, ==, "mail.example.org");
  g_assert_cmpint (target->security, ==, DOCTOR_SECURITY_STARTTLS);
  g_assert_null (target->user);
  g_assert_null (target->secret);
  g_assert_false (target->allow_plaintext_auth);
  g_assert_null (target->ca_file);
  g_assert_null (target->helo_name);
  g_assert_null (target->mail_from);
  g_assert_null (target->rcpt_to);
}

static void
assert_same_target (const DoctorTarget *copy,
                    const DoctorTarget *target)
{
  g_assert_cmpstr (copy->host, ==, target->host);
  g_assert_cmpuint (copy->port, ==, target->port);
  g_assert_cmpint (copy->security, ==, target->security);
  g_assert_cmpstr (copy->user, ==, target->user);
  g_assert_cmpstr (copy->secret, ==, target->secret);
  g_assert_cmpint (copy->allow_plaintext_auth, ==, target->allow_plaintext_auth);
  g_assert_cmpstr (copy->ca_file, ==, target->ca_file);
  g_assert_cmpuint (copy->timeout_ms, ==, target->timeout_ms);
  g_assert_cmpstr (copy->helo_name, ==, target->helo_name);
  g_assert_cmpstr (copy->mail_from, ==, target->mail_from);
  g_assert_cmpstr (copy->rcpt_to, ==, target->rcpt_to);

  /* A deep copy: no string is shared. */
  g_assert_true (copy->host == NULL || copy->host != target->host);
  g_assert_true (copy->user == NULL || copy->user != target->user);
  g_assert_true (copy->secret == NULL || copy->secret != target->secret);
  g_assert_true (copy->ca_file == NULL || copy->ca_file != target->ca_file);
  g_assert_true (copy->helo_name == NULL || copy->helo_name != target->helo_name);
  g_assert_true (copy->mail_from == NULL || copy->mail_from != target->mail_from);
  g_assert_true (copy->rcpt_to == NULL || copy->rcpt_to != target->rcpt_to);
}

static void
test_copy (void)
{
  DoctorTarget *target = doctor_target_new ("mail.example.org", 2525, DOCTOR_SECURITY_NONE);
  DoctorTarget *copy;
  DoctorTarget *boxed;

  /* Every field gets a value different from its default. If a field is added to the struct,
   * add it here and in doctor_target_copy(). */
  target->user = g_strdup ("alice");
  doctor_target_set_secret (target, "s3cret");
  target->allow_plaintext_auth = TRUE;
  target->ca_file = g_strdup ("/etc/ssl/certs/custom.pem");
  target->timeout_ms = 4321;
  target->helo_name = g_strdup ("client.example");
  target->mail_from = g_strdup ("alice@example.org");
  target->rcpt_to = g_strdup ("bob@example.net");
  G_STATIC_ASSERT (sizeof (DoctorTarget) ==
                   G_STRUCT_OFFSET (DoctorTarget, rcpt_to) + sizeof (char *));

  copy = doctor_target_copy (target);
  assert_same_target (copy, target);

  boxed = g_boxed_copy (DOCTOR_TYPE_TARGET, target);
  assert_same_target (boxed, target);
  g_assert_true (G_TYPE_IS_BOXED (DOCTOR_TYPE_TARGET));

  /* The copy outlives the original. */
  doctor_target_free (target);
  g_assert_cmpstr (copy->host, ==, "mail.example.org");
  g_assert_cmpstr (copy->secret, ==, "s3cret");
  g_assert_cmpstr (copy->rcpt_to, ==, "bob@example.net");
  doctor_target_free (copy);
  g_boxed_free (DOCTOR_TYPE_TARGET, boxed);

  /* A target with nothing optional set. */
  {
    g_autoptr(DoctorTarget) bare = doctor_target_new ("h", 0, DOCTOR_SECURITY_TLS);
    g_autoptr(DoctorTarget) bare_copy = doctor_target_copy (bare);

    assert_same_target (bare_copy, bare);
  }

  doctor_target_free (NULL);
}

static void
test_secret (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("h", 0, DOCTOR_SECURITY_TLS);

  doctor_target_set_secret (target, "first");
  g_assert_cmpstr (target->secret, ==, "first");
  doctor_target_set_secret (target, "second");
  g_assert_cmpstr (target->secret, ==, "second");
  /* Setting the value it already has must not read freed memory. */
  doctor_target_set_secret (target, target->secret);
  g_assert_cmpstr (target->secret, ==, "second");
  doctor_target_set_secret (target, NULL);
  g_assert_null (target->secret);

  doctor_secret_free (NULL);
  doctor_secret_free (g_strdup (""));
  doctor_secret_free (g_strdup ("wipe me"));
}

static void
check_uri (const char     *input,
           const char     *host,
           guint16         port,
           DoctorSecurity  security,
           gboolean        given,
           const char     *user)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *h = NULL;
  g_autofree char *u = NULL;
  DoctorSecurity sec;
  gboolean sec_given;
  guint16 p;

  g_assert_true (doctor_parse_target (input, &h, &p, &sec, &sec_given, &u, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (h, ==, host);
  g_assert_cmpuint (p, ==, port);
  g_assert_cmpint (sec, ==, security);
  g_assert_cmpint (sec_given, ==, given);
  g_assert_cmpstr (u, ==, user);
}

static void
refuse_uri (const char *input)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *h = NULL;
  g_autofree char *u = NULL;
  DoctorSecurity sec;
  gboolean sec_given;
  guint16 p;

  g_assert_false (doctor_parse_target (input, &h, &p, &sec, &sec_given, &u, &error));
  g_assert_error (error, DOCTOR_ERROR, DOCTOR_ERROR_INVALID_INPUT);
  g_assert_null (h);
  g_assert_null (u);
}

static void
test_uri (void)
{
  check_uri ("smtp.example.com", "smtp.example.com", 0, DOCTOR_SECURITY_STARTTLS, FALSE, NULL);
  check_uri ("smtp.example.com:2525", "smtp.example.com", 2525, DOCTOR_SECURITY_STARTTLS, FALSE,
             NULL);
  check_uri ("smtps://mail.example.com", "mail.example.com", 465, DOCTOR_SECURITY_TLS, TRUE, NULL);
  check_uri ("smtps://me@mail.example.com:4650", "mail.example.com", 4650, DOCTOR_SECURITY_TLS,
             TRUE, "me");
  check_uri ("submission://a%40b.example@mx.example.com/", "mx.example.com", 587,
             DOCTOR_SECURITY_STARTTLS, TRUE, "a@b.example");
  check_uri ("smtp://127.0.0.1:465", "127.0.0.1", 465, DOCTOR_SECURITY_TLS, FALSE, NULL);
  check_uri ("smtp://[::1]:587", "::1", 587, DOCTOR_SECURITY_STARTTLS, FALSE, NULL);
  check_uri ("SMTP://relay.example.com", "relay.example.com", 25, DOCTOR_SECURITY_STARTTLS,
             FALSE, NULL);

  refuse_uri ("smtp://me:secret@mail.example.com");
  refuse_uri ("http://mail.example.com");
  refuse_uri ("smtp://");
  refuse_uri ("smtp://mail.example.com:0");
  refuse_uri ("smtp://mail.example.com:70000");
  refuse_uri ("smtp://mail.example.com/path");
  refuse_uri ("smtp://mail.example.com?x=1");
  refuse_uri ("smtp://mail.example.com#frag");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/target/host-port/good", test_host_port_good);
  g_test_add_func ("/target/host-port/bad", test_host_port_bad);
  g_test_add_func ("/target/validate/good", test_validate_good);
  g_test_add_func ("/target/validate/hosts", test_validate_hosts);
  g_test_add_func ("/target/validate/injection", test_validate_injection);
  g_test_add_func ("/target/validate/fields", test_validate_fields);
  g_test_add_func ("/target/validate/addresses", test_validate_addresses);
  g_test_add_func ("/target/validate/ca-file", test_validate_ca_file);
  g_test_add_func ("/target/security/strings", test_security_strings);
  g_test_add_func ("/target/security/default-ports", test_default_ports);
  g_test_add_func ("/target/timeout", test_timeout);
  g_test_add_func ("/target/new", test_new_defaults);
  g_test_add_func ("/target/copy", test_copy);
  g_test_add_func ("/target/secret", test_secret);
  g_test_add_func ("/target/uri", test_uri);

  return g_test_run ();
}
