/* test-resources.c: what a diagnosis may cost, whatever the server does.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two promises, checked against the scripted server (doctor-test-server.h) on 127.0.0.1:
 *
 * 1. The peak memory of one diagnosis stays under MEMORY_CAP (8 MiB) above what the process
 *    held before it, against hostile servers: an endless line, a 20,000-line EHLO, bytes
 *    dripped one at a time, a huge multi-line reply, a fast flood of garbage. The reply parser
 *    caps a line at 8 KiB and a reply at 64 KiB (doctor-reply.h), so the real figure is far
 *    below the cap; the cap leaves room for GIO's buffers and TLS. Each case runs in a
 *    subprocess of its own, and its peak is the kernel's VmHWM, reset through
 *    /proc/self/clear_refs just before the run: every byte the process touched counts, the
 *    server's in the same process included (its scripts are made before the reset).
 *
 * 2. A thousand diagnoses in one process, half of them cancelled at a random point (a random
 *    delay, with a fixed seed printed in the output; DOCTOR_TEST_SEED=N picks another), end
 *    with as many open file descriptors as after the first ones (the warm-up: GLib opens some
 *    of its own once, on first use), and the heap in use (mallinfo2) after the last 100 runs
 *    is within HEAP_GROWTH_CAP (256 KiB, about 290 bytes a run) of the heap after the first
 *    100. The runs mix full plaintext conversations with a login and a test message,
 *    STARTTLS with a login, a refused connection and a server that never speaks.
 *
 * Memory figures mean nothing under AddressSanitizer (shadow memory, quarantine, its own
 * allocator), so the build decides: DOCTOR_TEST_MEASURE_MEMORY is defined only in a build
 * without a sanitizer (tests/meson.build); with a sanitizer the same cases run, with their fd
 * counts and deadlines, and LeakSanitizer checks the heap instead.
 *
 * To look closer at a hostile case: DOCTOR_TEST_DUMP=1 prints its checks and transcript,
 * DOCTOR_TEST_TRACE_RSS=1 prints RSS, peak and heap every 50 ms of the run.
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "doctor-error.h"
#include "doctor-test-server.h"

#define HOST            "127.0.0.1"
#define USER            "me"
#define SECRET          "pw"
#define PLAIN_B64       "AG1lAHB3"   /* base64 ("\0me\0pw") */
#define GREETING        "220 test.example ESMTP ready\r\n"
#define QUIT_REPLY      "221 2.0.0 Bye\r\n"

#define MEMORY_CAP      (8 * 1024 * 1024)   /* bytes of peak growth for one diagnosis */
#define HEAP_GROWTH_CAP (256 * 1024)        /* bytes of heap growth from run 100 to run 1000 */
#define N_RUNS          1000
#define DEFAULT_SEED    20261201
#define RUN_MAX_MS      15000

/* Helpers ------------------------------------------------------------------------------------ */

/* A TAP comment on standard output, which the subprocess shares with the parent: the figures
 * are in the test log whether the case passes or not. */
#define note(...) G_STMT_START {                   \
    g_autofree char *note_text = g_strdup_printf (__VA_ARGS__); \
    printf ("# %s\n", note_text);                  \
    fflush (stdout);                               \
  } G_STMT_END

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;

  return n;  /* the directory's own descriptor included, the same at every count */
}

static char *
list_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_autoptr(GString) out = g_string_new (NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      g_string_append_printf (out, "  %s -> %s\n", name, target ? target : "?");
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

typedef struct
{
  guint expected;
} FdWait;

static gboolean
fds_back (gpointer data)
{
  FdWait *wait = data;

  return count_fds () <= wait->expected;
}

/* Lets the closes that go on after a run reports (QUIT, close_async) finish. */
static void
settle_fds (guint expected)
{
  FdWait wait = { expected };

  doctor_test_wait_until (fds_back, &wait, 5000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Until the count of descriptors stays the same for 50 ms (at most 3 s): for a warm-up, whose
 * closes go on after it reports, before the count that later ones are held to. */
static void
settle_fds_stable (void)
{
  guint last = count_fds (), same = 0;

  for (guint i = 0; i < 300 && same < 5; i++)
    {
      guint now;

      doctor_test_sleep (10);
      now = count_fds ();
      same = now == last ? same + 1 : 0;
      last = now;
    }
}

static void
assert_fds (guint expected)
{
  guint now;

  settle_fds (expected);
  now = count_fds ();
  if (now != expected)
    {
      g_autofree char *list = list_fds ();

      note ("open descriptors:\n%s", list);
    }
  g_assert_cmpuint (now, ==, expected);
}

#ifdef DOCTOR_TEST_MEASURE_MEMORY
static gint64
status_kib (const char *field)
{
  g_autofree char *contents = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &contents, NULL, NULL));
  line = strstr (contents, field);
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen (field) + 1, NULL, 10);
}

/* The kernel's peak RSS (VmHWM) starts again from the current RSS. */
static void
reset_peak (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "5", 1), ==, 1);
  close (fd);
}

static gint64
heap_in_use (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return (gint64) (info.uordblks + info.hblkhd);
}
#endif

static gboolean
trace_rss (gpointer data)
{
#ifdef DOCTOR_TEST_MEASURE_MEMORY
  note ("rss %" G_GINT64_FORMAT " KiB, hwm %" G_GINT64_FORMAT " KiB, heap %" G_GINT64_FORMAT,
        status_kib ("VmRSS:"), status_kib ("VmHWM:"), heap_in_use ());
#endif
  return G_SOURCE_CONTINUE;
}

static DoctorTarget *
target_new (guint16        port,
            DoctorSecurity security,
            guint          timeout_ms)
{
  DoctorTarget *target = doctor_target_new (HOST, port, security);

  target->timeout_ms = timeout_ms;
  target->helo_name = g_strdup ("client.test");
  target->ca_file = doctor_test_cert_path ("ca");

  return target;
}

static guint16
closed_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

typedef enum
{
  KIND_PLAIN_MESSAGE,   /* none + login + test message, a few ms between replies */
  KIND_STARTTLS_LOGIN,  /* STARTTLS, the test CA, a login */
  KIND_REFUSED,         /* a closed port */
  KIND_SILENT,          /* a server that never speaks: ends by cancel or by the deadline */
} RunKind;

typedef struct
{
  guint cancelled;        /* runs that ended cancelled */
  guint cancel_asked;
  guint by_kind[4];
} Tally;

static void one_run (RunKind kind, gint cancel_ms, guint pause_ms, Tally *tally);

/* 1. Peak memory against hostile servers ------------------------------------------------------ */

typedef void (*ScriptFunc) (DoctorTestScript *script);

static void
script_endless_line (DoctorTestScript *script)
{
  doctor_test_script_send (script, "220 ");
  doctor_test_script_send_endless (script, 0);
}

static void
script_ehlo_20000 (DoctorTestScript *script)
{
  g_autoptr(GString) reply = g_string_new ("250-test.example\r\n");

  for (guint i = 0; i < 20000; i++)
    g_string_append_printf (reply, "250-X-LINE-%05u\r\n", i);
  g_string_append (reply, "250 END\r\n");
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, reply->str);
}

static void
script_drip (DoctorTestScript *script)
{
  g_autoptr(GString) greeting = g_string_new ("220-");

  /* One byte every 2 ms: far slower than the step deadline (1 s) allows for the reply. */
  for (guint i = 0; i < 200; i++)
    g_string_append (greeting, "drip ");
  g_string_append (greeting, "\r\n220 ready\r\n");
  doctor_test_script_send_slowly (script, greeting->str, 2);
}

static void
script_huge_multiline (DoctorTestScript *script)
{
  g_autoptr(GString) reply = g_string_new (NULL);
  g_autofree char *filler = g_strnfill (8000, 'x');

  /* 1000 lines of 8,000 bytes each, just under the line cap: 8 MB in one reply. */
  for (guint i = 0; i < 1000; i++)
    g_string_append_printf (reply, "250-%s\r\n", filler);
  g_string_append (reply, "250 END\r\n");
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, reply->str);
}

static void
script_garbage_flood (DoctorTestScript *script)
{
  gsize size = 8 * 1024 * 1024;
  g_autofree guint8 *garbage = g_malloc (size);
  GRand *rand = g_rand_new_with_seed (DEFAULT_SEED);

  /* Random bytes with a line end now and then, as fast as the socket takes them. */
  for (gsize i = 0; i < size; i++)
    garbage[i] = (i % 97 == 96) ? '\n' : (guint8) g_rand_int_range (rand, 1, 256);
  g_rand_free (rand);
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send_bytes (script, garbage, size);
}

static void
run_hostile (ScriptFunc  make_script,
             const char *failing_check)
{
  g_autoptr(DoctorTestServer) server = NULL;
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GError) error = NULL;
  DoctorCheck *check;
  guint fds_before;
  gint64 elapsed = 0;
#ifdef DOCTOR_TEST_MEASURE_MEMORY
  gint64 rss_before, peak;
#endif

  /* A plain run and a TLS one first: GLib's types, resolver and thread pool, and GnuTLS with
   * the system's trust store, exist before the count starts, so that the figures are the
   * hostile run's own. (Loading the system's CA bundle is paid once per process: about 8 MiB
   * at its peak, 4.5 MiB kept, on Debian 12; the drip case pays it otherwise, as its TLS
   * probe is the first TLS of the process.) */
  {
    Tally tally = { 0 };

    one_run (KIND_PLAIN_MESSAGE, -1, 0, &tally);
    one_run (KIND_STARTTLS_LOGIN, -1, 0, &tally);
    settle_fds_stable ();
  }
  fds_before = count_fds ();

  server = doctor_test_server_new ();
  make_script (doctor_test_server_get_script (server, 0));
  target = target_new (doctor_test_server_get_port (server), DOCTOR_SECURITY_NONE, 1000);
  target->user = g_strdup (USER);
  doctor_target_set_secret (target, SECRET);
  target->allow_plaintext_auth = TRUE;

#ifdef DOCTOR_TEST_MEASURE_MEMORY
  /* Free memory back to the kernel, so that the run cannot hide in pages the warm-up left. */
  malloc_trim (0);
  reset_peak ();
  rss_before = status_kib ("VmRSS:");
#endif

  if (g_getenv ("DOCTOR_TEST_TRACE_RSS"))
    g_timeout_add (50, trace_rss, NULL);
  d = doctor_test_run_diagnosis_full (target, NULL, RUN_MAX_MS, &elapsed, &error);
  g_assert_nonnull (d);
  g_assert_no_error (error);
  g_assert_true (doctor_diagnosis_is_finished (d));

#ifdef DOCTOR_TEST_MEASURE_MEMORY
  peak = status_kib ("VmHWM:");
  note ("peak RSS %" G_GINT64_FORMAT " KiB above the %" G_GINT64_FORMAT
                  " KiB before the run (cap %d KiB), %" G_GINT64_FORMAT " ms, %" G_GUINT64_FORMAT
                  " bytes written by the server before the client hung up",
                  peak - rss_before, rss_before, MEMORY_CAP / 1024, elapsed,
                  doctor_test_server_get_bytes_sent (server));
  g_assert_cmpint ((peak - rss_before) * 1024, <, MEMORY_CAP);
#else
  note ("%" G_GINT64_FORMAT " ms, %" G_GUINT64_FORMAT " bytes written by the server "
                  "(memory not measured in a sanitizer build)",
                  elapsed, doctor_test_server_get_bytes_sent (server));
#endif

  if (g_getenv ("DOCTOR_TEST_DUMP"))
    doctor_test_dump_diagnosis (d);

  /* The run ended by its own rules, not by the test's limit. */
  check = doctor_diagnosis_get_check (d, failing_check);
  g_assert_nonnull (check);
  g_assert_cmpint (doctor_check_get_status (check), ==, DOCTOR_CHECK_FAIL);
  g_assert_cmpint (elapsed, <, 5000);

  g_clear_object (&d);
  g_clear_pointer (&server, doctor_test_server_free);
  assert_fds (fds_before);
}

static void
test_endless_line (void)
{
  run_hostile (script_endless_line, "greeting");
}

static void
test_ehlo_20000 (void)
{
  run_hostile (script_ehlo_20000, "ehlo");
}

static void
test_drip (void)
{
  run_hostile (script_drip, "greeting");
}

static void
test_huge_multiline (void)
{
  run_hostile (script_huge_multiline, "ehlo");
}

static void
test_garbage_flood (void)
{
  run_hostile (script_garbage_flood, "ehlo");
}

/* 2. A thousand runs, half of them cancelled ------------------------------------------------- */

static const char *const kind_names[] = { "plain+message", "starttls+login", "refused", "silent" };

static RunKind
pick_kind (guint i)
{
  switch (i % 10)
    {
    case 7:
    case 8:
      return KIND_STARTTLS_LOGIN;
    case 9:
      return (i / 10) % 2 ? KIND_REFUSED : KIND_SILENT;
    default:
      return KIND_PLAIN_MESSAGE;
    }
}

static void
script_plain_message (DoctorTestScript *script,
                      guint             pause_ms)
{
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_wait (script, pause_ms);
  doctor_test_script_send (script, "250-test.example\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n");
  doctor_test_script_expect (script, "AUTH PLAIN " PLAIN_B64);
  doctor_test_script_wait (script, pause_ms);
  doctor_test_script_send (script, "235 2.7.0 Authentication successful\r\n");
  doctor_test_script_expect (script, "MAIL FROM:");
  doctor_test_script_send (script, "250 2.1.0 Ok\r\n");
  doctor_test_script_expect (script, "RCPT TO:");
  doctor_test_script_wait (script, pause_ms);
  doctor_test_script_send (script, "250 2.1.5 Ok\r\n");
  doctor_test_script_expect (script, "DATA");
  doctor_test_script_send (script, "354 End data with <CR><LF>.<CR><LF>\r\n");
  doctor_test_script_expect_message (script);
  doctor_test_script_send (script, "250 2.0.0 Ok: queued\r\n");
  doctor_test_script_on_line (script, "QUIT", QUIT_REPLY);
}

static void
script_starttls_login (DoctorTestScript *script,
                       guint             pause_ms)
{
  doctor_test_script_send (script, GREETING);
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, "250-test.example\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
  doctor_test_script_expect (script, "STARTTLS");
  doctor_test_script_wait (script, pause_ms);
  doctor_test_script_send (script, "220 2.0.0 Ready to start TLS\r\n");
  doctor_test_script_start_tls (script, "good");
  doctor_test_script_expect (script, "EHLO ");
  doctor_test_script_send (script, "250-test.example\r\n250 AUTH PLAIN LOGIN\r\n");
  doctor_test_script_expect (script, "AUTH PLAIN " PLAIN_B64);
  doctor_test_script_wait (script, pause_ms);
  doctor_test_script_send (script, "235 2.7.0 Authentication successful\r\n");
  doctor_test_script_on_line (script, "QUIT", QUIT_REPLY);
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} Run;

static void
on_run_done (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;

  run->ok = doctor_diagnosis_run_finish (DOCTOR_DIAGNOSIS (object), result, &run->error);
  run->done = TRUE;
}

static gboolean
run_is_done (gpointer data)
{
  return ((Run *) data)->done;
}

typedef struct
{
  GCancellable *cancellable;
  guint         id;
} CancelTimer;

static gboolean
on_cancel_timer (gpointer data)
{
  CancelTimer *timer = data;

  timer->id = 0;
  g_cancellable_cancel (timer->cancellable);
  return G_SOURCE_REMOVE;
}

/* One run of @kind; cancelled after @cancel_ms when @cancel_ms >= 0. */
static void
one_run (RunKind  kind,
         gint     cancel_ms,
         guint    pause_ms,
         Tally   *tally)
{
  g_autoptr(DoctorTestServer) server = NULL;
  g_autoptr(DoctorTarget) target = NULL;
  g_autoptr(DoctorDiagnosis) d = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Run run = { FALSE, FALSE, NULL };
  CancelTimer timer = { cancellable, 0 };
  guint16 port;

  if (kind == KIND_REFUSED)
    {
      port = closed_port ();
    }
  else
    {
      server = doctor_test_server_new ();
      port = doctor_test_server_get_port (server);
      if (kind == KIND_PLAIN_MESSAGE)
        script_plain_message (doctor_test_server_get_script (server, 0), pause_ms);
      else if (kind == KIND_STARTTLS_LOGIN)
        script_starttls_login (doctor_test_server_get_script (server, 0), pause_ms);
      else
        doctor_test_script_silent (doctor_test_server_get_script (server, 0));
    }

  target = target_new (port, kind == KIND_STARTTLS_LOGIN ? DOCTOR_SECURITY_STARTTLS
                                                         : DOCTOR_SECURITY_NONE,
                       kind == KIND_SILENT ? 150 : 5000);
  target->user = g_strdup (USER);
  doctor_target_set_secret (target, SECRET);
  if (kind == KIND_PLAIN_MESSAGE)
    {
      target->allow_plaintext_auth = TRUE;
      target->mail_from = g_strdup ("me@example.org");
      target->rcpt_to = g_strdup ("you@example.net");
    }

  d = doctor_diagnosis_new (target);
  if (cancel_ms == 0)
    g_cancellable_cancel (cancellable);
  doctor_diagnosis_run_async (d, cancellable, on_run_done, &run);
  if (cancel_ms > 0)
    timer.id = g_timeout_add (cancel_ms, on_cancel_timer, &timer);
  if (cancel_ms >= 0)
    tally->cancel_asked++;
  tally->by_kind[kind]++;

  if (!doctor_test_wait_until (run_is_done, &run, RUN_MAX_MS))
    g_error ("a %s run (cancel at %d ms) did not end", kind_names[kind], cancel_ms);
  g_clear_handle_id (&timer.id, g_source_remove);

  g_assert_true (doctor_diagnosis_is_finished (d));
  if (!run.ok)
    {
      /* The only failure of a run is being cancelled. */
      g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (cancel_ms, >=, 0);
      tally->cancelled++;
    }
  else if (cancel_ms < 0 && kind != KIND_SILENT && kind != KIND_REFUSED)
    {
      /* Not cancelled: the conversation went through to the end. */
      if (doctor_diagnosis_get_verdict (d) == DOCTOR_CHECK_FAIL)
        doctor_test_dump_diagnosis (d);
      g_assert_cmpint (doctor_diagnosis_get_verdict (d), !=, DOCTOR_CHECK_FAIL);
    }
  g_clear_error (&run.error);
}

static void
test_thousand_runs (void)
{
  const char *seed_env = g_getenv ("DOCTOR_TEST_SEED");
  guint32 seed = seed_env != NULL ? (guint32) g_ascii_strtoull (seed_env, NULL, 10)
                                  : DEFAULT_SEED;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  Tally tally = { 0 };
  gint64 start = g_get_monotonic_time ();
  guint fds_start, fds_end;
#ifdef DOCTOR_TEST_MEASURE_MEMORY
  gint64 heap_100 = 0, heap_end;
#endif

  note ("seed %u (DOCTOR_TEST_SEED=%u to run the same again)", seed, seed);

  /* Warm-up: one run of each kind, cancelled and not, so that GLib's own descriptors and
   * caches (resolver, TLS backend, thread pool) exist before the count starts. */
  for (guint k = 0; k < 4; k++)
    {
      one_run (k, -1, 0, &tally);
      one_run (k, 1, 0, &tally);
    }
  settle_fds_stable ();
  fds_start = count_fds ();
  memset (&tally, 0, sizeof tally);

  for (guint i = 0; i < N_RUNS; i++)
    {
      RunKind kind = pick_kind (i);
      gboolean cancel = g_rand_boolean (rand);
      /* Up to 40 ms: past the end of most runs, so that every step gets its share. */
      gint cancel_ms = cancel ? g_rand_int_range (rand, 0, 41) : -1;
      guint pause_ms = g_rand_int_range (rand, 0, 4);

      one_run (kind, cancel_ms, pause_ms, &tally);

#ifdef DOCTOR_TEST_MEASURE_MEMORY
      if (i == 99)
        {
          settle_fds (fds_start);
          heap_100 = heap_in_use ();
        }
#endif
    }

  settle_fds (fds_start);
  fds_end = count_fds ();
  note ("%u runs in %.1f s: %u with a cancel asked for, %u ended cancelled; "
                  "%u plain+message, %u starttls+login, %u refused, %u silent",
                  N_RUNS, (g_get_monotonic_time () - start) / 1e6, tally.cancel_asked,
                  tally.cancelled, tally.by_kind[0], tally.by_kind[1], tally.by_kind[2],
                  tally.by_kind[3]);
  note ("file descriptors: %u after the warm-up, %u at the end", fds_start, fds_end);
  assert_fds (fds_start);

  /* About half asked; the other half is not vacuous either. */
  g_assert_cmpuint (tally.cancel_asked, >, N_RUNS / 3);
  g_assert_cmpuint (tally.cancel_asked, <, 2 * N_RUNS / 3);
  g_assert_cmpuint (tally.cancelled, >, N_RUNS / 10);

#ifdef DOCTOR_TEST_MEASURE_MEMORY
  heap_end = heap_in_use ();
  note ("heap in use: %" G_GINT64_FORMAT " bytes after run 100, %" G_GINT64_FORMAT
                  " after run %u: %+" G_GINT64_FORMAT " (cap %d)",
                  heap_100, heap_end, N_RUNS, heap_end - heap_100, HEAP_GROWTH_CAP);
  g_assert_cmpint (heap_end - heap_100, <, HEAP_GROWTH_CAP);
#endif
}

/* Every case in a subprocess of its own: a fresh process for each peak, and a hang or a crash
 * fails its case only. */
static void
run_in_subprocess (gconstpointer data)
{
  GTestFunc func = (GTestFunc) data;

  if (g_test_subprocess ())
    {
      func ();
      return;
    }
  g_test_trap_subprocess (NULL, 240 * G_TIME_SPAN_SECOND, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
add (const char *name,
     GTestFunc   func)
{
  g_autofree char *path = g_strconcat ("/resources/", name, NULL);

  g_test_add_data_func (path, (gconstpointer) func, run_in_subprocess);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  doctor_test_have_certs ();

  add ("hostile/endless-line", test_endless_line);
  add ("hostile/ehlo-20000-lines", test_ehlo_20000);
  add ("hostile/drip", test_drip);
  add ("hostile/huge-multiline-reply", test_huge_multiline);
  add ("hostile/garbage-flood", test_garbage_flood);
  add ("thousand-runs", test_thousand_runs);

  return g_test_run ();
}
