/* doctor-firewall.h: what stands between this machine and the server, and what to do about it.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The facts of this machine's side of the network: which Linux firewall front end it has,
 * whether it runs inside Flatpak, whether it is online or behind a captive portal
 * (GNetworkMonitor), and whether a system proxy is set (GProxyResolver). From them, advice that
 * fits a failed connection or a port-scan conclusion: the exact command that allows the
 * outgoing port here, the steps for a Windows or macOS machine, and the network's part (another
 * network, a VPN, the administrator or the Internet provider).
 *
 * Nothing here needs root or changes anything: the firewall is detected from files and
 * programs on disk, never by running them.
 *
 * Test seam: when set, these environment variables are read first and stand for the machine,
 * so that tests never look at the real firewall or network:
 *   DOCTOR_TEST_FIREWALL      ufw | firewalld | nftables | iptables | none
 *   DOCTOR_TEST_FLATPAK       1 | 0
 *   DOCTOR_TEST_CONNECTIVITY  full | limited | portal | local | none
 *   DOCTOR_TEST_METERED       1 | 0
 *   DOCTOR_TEST_PROXY         a proxy URI such as http://proxy:3128, or direct:// (or empty)
 *                             for none
 * They are read at every call, never cached.
 */
#pragma once

#include <glib.h>

#include "doctor-check.h"
#include "doctor-target.h"

G_BEGIN_DECLS

typedef enum
{
  DOCTOR_FIREWALL_NONE,
  DOCTOR_FIREWALL_UFW,
  DOCTOR_FIREWALL_FIREWALLD,
  DOCTOR_FIREWALL_NFTABLES,
  DOCTOR_FIREWALL_IPTABLES,
} DoctorFirewall;

/* The network as GNetworkMonitor sees it, from worst to best. */
typedef enum
{
  DOCTOR_NETWORK_NONE,      /* no network at all (no default route) */
  DOCTOR_NETWORK_LOCAL,     /* a local network only, no route to the Internet */
  DOCTOR_NETWORK_PORTAL,    /* a captive portal wants a sign-in first */
  DOCTOR_NETWORK_LIMITED,   /* connected, but the Internet is not fully reachable */
  DOCTOR_NETWORK_FULL,
} DoctorNetworkState;

/* The front end in charge here: an enabled UFW, then a running firewalld, then one that is
 * only installed (UFW, firewalld), then nftables, then iptables. Inside Flatpak, the host's
 * files are looked at when the sandbox can see them (/run/host), else the answer is NONE. */
DoctorFirewall      doctor_firewall_detect           (void);
gboolean            doctor_firewall_in_flatpak       (void);

/* Stable codes ("ufw", "firewalld", "nftables", "iptables", "none") and names for people. */
const char         *doctor_firewall_to_string        (DoctorFirewall      firewall);
const char         *doctor_firewall_get_label        (DoctorFirewall      firewall);

DoctorNetworkState  doctor_network_get_state         (void);
gboolean            doctor_network_is_available      (void);
gboolean            doctor_network_is_metered        (void);
/* Stable codes: "none", "local", "portal", "limited", "full". */
const char         *doctor_network_state_to_string   (DoctorNetworkState  state);

/* The system proxy for a connection to @host:@port (an SMTP connection, then a web one), or
 * NULL when connections go direct. The URI is without user name or password, so it can be
 * shown. The lookup may take a moment (a PAC file): call it off the main thread when that
 * matters. */
char               *doctor_network_get_proxy         (const char         *host,
                                                      guint16             port);

/* One translated sentence for the report when the network is down, behind a portal or set to
 * use a proxy, else NULL. The first form looks the proxy up for any mail server; the second for
 * @host:@port. */
char               *doctor_network_describe          (void);
char               *doctor_network_describe_for_host (const char         *host,
                                                      guint16             port);

/* Adds to @check the firewall and network advice that fits @situation: a connection reason
 * ("connection-timeout", "connection-filtered", "connection-refused", "host-unreachable",
 * "network-unreachable") or a port-scan conclusion ("smtp-ports-filtered", "port-25-blocked",
 * "some-ports-filtered", "smtp-ports-closed", "host-unreachable-or-offline"). @port is the
 * port to open, 0 for the target's. Any other situation adds nothing. This comes on top of
 * doctor_advice_add(), which explains the reason itself. */
void                doctor_firewall_add_advice       (DoctorCheck        *check,
                                                      const DoctorTarget *target,
                                                      guint16             port,
                                                      const char         *situation);

G_END_DECLS
