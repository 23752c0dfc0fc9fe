/* doctor-test-server.h: a scripted SMTP server on 127.0.0.1 for the engine tests.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The server plays a script of steps (send bytes, expect a command, drip bytes, wait, close,
 * start TLS, stay silent, flood) on every connection it accepts, so that a test can make a
 * real GIO client meet the faults and attacks listed in the reliability research. It runs on
 * the thread-default main context of its creator, the same one the client under test uses:
 * everything is asynchronous and nothing runs in a thread. It records every line a client sent
 * and every way the script went wrong, for the test to assert on afterwards.
 *
 * Connection N plays the script of doctor_test_server_get_script (server, N); connections past
 * the last script made play the last one, so a test that only fills script 0 gets the same
 * script on every connection (the engine may open a second, probing connection).
 *
 * Steps: SEND raw bytes (NUL included); EXPECT one client line starting with a prefix (any
 * case; a mismatch is recorded as a failure and ends the connection); EXPECT_MESSAGE (the lines
 * of a DATA message up to "."); SEND_SLOWLY one byte per delay; WAIT; CLOSE (half-close with a
 * FIN, after a TLS close_notify unless "abruptly"); START_TLS with a certificate NAME.pem and
 * NAME-key.pem from $DOCTOR_TEST_CERTS; SILENT (send nothing, read until the client hangs up);
 * SEND_ENDLESS ('A' without a newline, up to a cap, until the client hangs up).
 *
 * When a script has played all its steps, the server keeps reading and recording lines until
 * the client closes, answering the lines that match a doctor_test_script_on_line() rule.
 */
#pragma once

#include <gio/gio.h>

#include "doctor-diagnosis.h"

G_BEGIN_DECLS

typedef struct _DoctorTestServer DoctorTestServer;
typedef struct _DoctorTestScript DoctorTestScript;

/* The most a SEND_ENDLESS step writes unless told otherwise. */
#define DOCTOR_TEST_ENDLESS_CAP (16 * 1024 * 1024)

DoctorTestServer *doctor_test_server_new              (void);
void              doctor_test_server_free             (DoctorTestServer  *self);
guint16           doctor_test_server_get_port         (DoctorTestServer  *self);
DoctorTestScript *doctor_test_server_get_script       (DoctorTestServer  *self,
                                                       guint              connection);
guint             doctor_test_server_get_n_connections (DoctorTestServer *self);
guint             doctor_test_server_get_n_finished   (DoctorTestServer  *self);
guint             doctor_test_server_get_n_handshakes (DoctorTestServer  *self);
GPtrArray        *doctor_test_server_get_received     (DoctorTestServer  *self);
GPtrArray        *doctor_test_server_get_received_on  (DoctorTestServer  *self,
                                                       guint              connection);
guint             doctor_test_server_get_read_of_line (DoctorTestServer  *self,
                                                       guint              connection,
                                                       guint              line);
gint64            doctor_test_server_get_accept_time  (DoctorTestServer  *self,
                                                       guint              connection);
gint64            doctor_test_server_get_finish_time  (DoctorTestServer  *self,
                                                       guint              connection);
guint             doctor_test_server_count_received   (DoctorTestServer  *self,
                                                       const char        *prefix);
GPtrArray        *doctor_test_server_get_failures     (DoctorTestServer  *self);
const char       *doctor_test_server_get_failure      (DoctorTestServer  *self);
guint64           doctor_test_server_get_bytes_sent   (DoctorTestServer  *self);

/* Steps, played in the order they are added. */
void              doctor_test_script_send             (DoctorTestScript  *script,
                                                       const char        *text);
void              doctor_test_script_send_bytes       (DoctorTestScript  *script,
                                                       const void        *data,
                                                       gsize              length);
void              doctor_test_script_expect           (DoctorTestScript  *script,
                                                       const char        *prefix);
void              doctor_test_script_send_slowly      (DoctorTestScript  *script,
                                                       const char        *text,
                                                       guint              delay_ms);
void              doctor_test_script_wait             (DoctorTestScript  *script,
                                                       guint              ms);
void              doctor_test_script_close            (DoctorTestScript  *script);
void              doctor_test_script_close_abruptly   (DoctorTestScript  *script);
void              doctor_test_script_start_tls        (DoctorTestScript  *script,
                                                       const char        *cert_name);
void              doctor_test_script_expect_message   (DoctorTestScript  *script);
void              doctor_test_script_silent           (DoctorTestScript  *script);
void              doctor_test_script_send_endless     (DoctorTestScript  *script,
                                                       gsize              cap);

/* Once the steps are done: answer a line that starts with @prefix (any case) with @reply. */
void              doctor_test_script_on_line          (DoctorTestScript  *script,
                                                       const char        *prefix,
                                                       const char        *reply);

/* Fails the test unless the script ran without a mismatch. */
#define doctor_test_server_assert_script_ok(server) \
  g_assert_cmpstr (doctor_test_server_get_failure (server), ==, NULL)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorTestServer, doctor_test_server_free)

/* Fails the test unless check @id of @diagnosis has @status and @reason (NULL: no reason;
 * "*": any reason), printing the whole diagnosis when not. */
#define doctor_test_assert_check(d, id, status, reason) \
  doctor_test_assert_check_impl ((d), (id), (status), (reason), G_STRLOC)
void              doctor_test_assert_check_impl       (DoctorDiagnosis   *diagnosis,
                                                       const char        *id,
                                                       DoctorCheckStatus  status,
                                                       const char        *reason,
                                                       const char        *where);

/* "250-test.example\r\n250-CAP\r\n…250 LAST\r\n" from a NULL-terminated list of capabilities. */
char             *doctor_test_ehlo_reply              (const char        *first,
                                                       ...) G_GNUC_NULL_TERMINATED;

/* Helpers for tests that iterate the thread-default main context. */
char             *doctor_test_cert_path               (const char        *name);
gboolean          doctor_test_have_certs              (void);
typedef gboolean (*DoctorTestCondition) (gpointer data);

gboolean          doctor_test_wait_until              (DoctorTestCondition condition,
                                                       gpointer           data,
                                                       gint64             max_ms);
void              doctor_test_sleep                   (guint              ms);
DoctorDiagnosis  *doctor_test_run_diagnosis           (DoctorTarget      *target,
                                                       gint64             max_ms);
DoctorDiagnosis  *doctor_test_run_diagnosis_full      (DoctorTarget      *target,
                                                       GCancellable      *cancellable,
                                                       gint64             max_ms,
                                                       gint64            *elapsed_ms,
                                                       GError           **error);
void              doctor_test_dump_diagnosis          (DoctorDiagnosis   *diagnosis);

G_END_DECLS
