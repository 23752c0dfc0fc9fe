/* doctor-port-scan.h: which mail port and security mode get through to a server.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A port scan probes the port × security matrix of one address (25, 465, 587 and 2525, each
 * with the modes that tell something), every port at once, each cell with its own deadline,
 * so the whole scan takes about one timeout. A port that refuses, filters or drops its first
 * connection gets no other: its other cells take that result. A control connection to port
 * 443 of the same address runs alongside, so that "the SMTP ports are filtered" can be told
 * from "the host is down".
 * No cell sends anything but EHLO, STARTTLS and QUIT: never a credential, never mail.
 *
 * The cells have their final shape at construction (result NULL until each one ends); the
 * "cell-finished" signal reports each result as it comes, for a table that fills in live.
 */
#pragma once

#include <gio/gio.h>

#include "doctor-target.h"

G_BEGIN_DECLS

/* Cell results (stable codes):
 *   "ok"                    speaks SMTP in this mode (with TLS: the certificate is trusted)
 *   "mode-mismatch"         open, but speaks the other mode (plain text on a TLS cell, silence
 *                           waiting for a TLS handshake on a plain or STARTTLS cell)
 *   "refused"               connection refused (TCP reset, or ICMP port unreachable)
 *   "timeout"               no answer to the connection within the deadline
 *   "unreachable"           host or network unreachable (ICMP, or no route here)
 *   "filtered"              ICMP administratively prohibited, or a local firewall (EACCES/EPERM)
 *   "tls-failed"            the TLS handshake, or STARTTLS itself, failed
 *   "certificate-untrusted" speaks SMTP over TLS, but the certificate is not trusted
 *   "greeting-failed"       connected, but no usable start: 421/554, garbage, silence, EHLO
 *                           refused
 *   "starttls-not-offered"  a STARTTLS cell whose server does not offer STARTTLS
 *   "cancelled"             the scan was cancelled before the cell ended
 *   "not-tried"             the host name could not be resolved
 * The control cell (port 443) has "open" in place of "ok", and the connection results above.
 * More codes may be added; none changes its meaning. */

/* Network-level conclusions (doctor_port_scan_get_diagnosis), NULL when nothing stands out:
 * A port counts as blocked when it is silent or an ICMP "prohibited" comes from somewhere on
 * the way; an ICMP error from the server's own address counts as a refusal.
 *   "smtp-ports-filtered"         no mail port answers, but the host does (443, or a refusal):
 *                                 this network blocks outgoing mail
 *   "port-25-blocked"             port 25 alone is blocked while 465 or 587 answer: the classic
 *                                 ISP block
 *   "some-ports-filtered"         some mail ports are blocked while another answers
 *   "smtp-ports-closed"           every mail port refuses: no submission service, or a firewall
 *                                 rejecting
 *   "host-unreachable-or-offline" nothing answers, 443 included
 * More codes may be added ("ipv6-broken" is planned); none changes its meaning. */

typedef struct
{
  guint16         port;
  DoctorSecurity  security;     /* meaningless on the control cell */
  const char     *result;       /* a stable code above; NULL while the cell runs */
  char           *summary;      /* one translated sentence; NULL while the cell runs */
  gint64          duration_ms;
  char           *detail;       /* the banner and TLS version, the error, the ICMP sender… */
} DoctorPortCell;

#define DOCTOR_TYPE_PORT_CELL (doctor_port_cell_get_type ())

GType           doctor_port_cell_get_type  (void) G_GNUC_CONST;
DoctorPortCell *doctor_port_cell_copy      (const DoctorPortCell *cell);
void            doctor_port_cell_free      (DoctorPortCell       *cell);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorPortCell, doctor_port_cell_free)

#define DOCTOR_TYPE_PORT_SCAN (doctor_port_scan_get_type ())

G_DECLARE_FINAL_TYPE (DoctorPortScan, doctor_port_scan, DOCTOR, PORT_SCAN, GObject)

DoctorPortScan       *doctor_port_scan_new                    (const char           *host,
                                                               GInetAddress         *address,
                                                               guint                 timeout_ms,
                                                               GTlsDatabase         *ca_database);
void                  doctor_port_scan_set_helo_name          (DoctorPortScan       *self,
                                                               const char           *helo_name);
const char           *doctor_port_scan_get_host               (DoctorPortScan       *self);
GInetAddress         *doctor_port_scan_get_address            (DoctorPortScan       *self);
guint                 doctor_port_scan_get_timeout_ms         (DoctorPortScan       *self);
void                  doctor_port_scan_run_async              (DoctorPortScan       *self,
                                                               GCancellable         *cancellable,
                                                               GAsyncReadyCallback   callback,
                                                               gpointer              user_data);
gboolean              doctor_port_scan_run_finish             (DoctorPortScan       *self,
                                                               GAsyncResult         *result,
                                                               GError              **error);
gboolean              doctor_port_scan_is_finished            (DoctorPortScan       *self);
GPtrArray            *doctor_port_scan_get_cells              (DoctorPortScan       *self);
const DoctorPortCell *doctor_port_scan_get_cell               (DoctorPortScan       *self,
                                                               guint16               port,
                                                               DoctorSecurity        security);
const DoctorPortCell *doctor_port_scan_get_control            (DoctorPortScan       *self);
const DoctorPortCell *doctor_port_scan_get_best               (DoctorPortScan       *self);
const char           *doctor_port_scan_get_diagnosis          (DoctorPortScan       *self);
char                 *doctor_port_scan_get_diagnosis_summary  (DoctorPortScan       *self);

G_END_DECLS
