/* test-firewall.c: firewall and network advice for each front end, with the machine faked.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every test but the last sets the DOCTOR_TEST_* seam (see doctor-firewall.h), so none looks
 * at this machine's firewall, network or proxy; the last one looks, and only checks that the
 * answers are well formed.
 */
#include "config.h"

#include <string.h>

#include "doctor-firewall.h"

static const char *const situations[] = {
  "connection-timeout", "connection-filtered", "connection-refused", "host-unreachable",
  "network-unreachable", "smtp-ports-filtered", "port-25-blocked", "some-ports-filtered",
  "smtp-ports-closed", "host-unreachable-or-offline",
};

static const char *const front_ends[] = { "ufw", "firewalld", "nftables", "iptables", "none" };

static const char *const connectivities[] = { "full", "limited", "portal", "local", "none" };

/* The command that opens port 587 (or 465 for an address) in each front end, by the seam's
 * name. */
typedef struct
{
  const char *front_end;
  const char *allow;
} FrontEnd;

static const FrontEnd allow_587[] = {
  { "ufw",       "sudo ufw allow out 587/tcp" },
  { "firewalld", "sudo firewall-cmd --permanent --direct --add-rule ipv4 filter OUTPUT 0 -p tcp "
                 "--dport 587 -j ACCEPT" },
  { "nftables",  "sudo nft insert rule inet filter output tcp dport 587 accept" },
  { "iptables",  "sudo iptables -I OUTPUT -p tcp --dport 587 -j ACCEPT" },
};

/* A machine with no firewall, in no sandbox, fully online, without a proxy. */
static void
fake_machine (const char *firewall,
              gboolean    flatpak,
              const char *connectivity,
              const char *proxy)
{
  g_setenv ("DOCTOR_TEST_FIREWALL", firewall, TRUE);
  g_setenv ("DOCTOR_TEST_FLATPAK", flatpak ? "1" : "0", TRUE);
  g_setenv ("DOCTOR_TEST_CONNECTIVITY", connectivity, TRUE);
  g_setenv ("DOCTOR_TEST_METERED", "0", TRUE);
  g_setenv ("DOCTOR_TEST_PROXY", proxy != NULL ? proxy : "direct://", TRUE);
}

static void
fake_default (void)
{
  fake_machine ("none", FALSE, "full", NULL);
}

static DoctorCheck *
advise (const char *host,
        guint16     port,
        const char *situation)
{
  g_autoptr(DoctorTarget) target = doctor_target_new (host, port, DOCTOR_SECURITY_STARTTLS);
  DoctorCheck *check = doctor_check_new ("connect");

  doctor_firewall_add_advice (check, target, 0, situation);
  return check;
}

static gboolean
advice_mentions (DoctorCheck *check,
                 const char  *needle)
{
  GPtrArray *advice = doctor_check_get_advice (check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      if (strstr (item->title, needle) != NULL || strstr (item->text, needle) != NULL)
        return TRUE;
    }

  return FALSE;
}

static gboolean
has_command (DoctorCheck *check,
             const char  *command)
{
  GPtrArray *advice = doctor_check_get_advice (check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      if (g_strv_contains ((const char *const *) item->commands, command))
        return TRUE;
    }

  return FALSE;
}

static gboolean
commands_contain (DoctorCheck *check,
                  const char  *needle)
{
  GPtrArray *advice = doctor_check_get_advice (check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      for (guint j = 0; item->commands[j] != NULL; j++)
        {
          if (strstr (item->commands[j], needle) != NULL)
            return TRUE;
        }
    }

  return FALSE;
}

/* No empty title or text, one-line titles and commands, all valid UTF-8. */
static void
assert_well_formed (DoctorCheck *check)
{
  GPtrArray *advice = doctor_check_get_advice (check);

  for (guint i = 0; i < advice->len; i++)
    {
      DoctorAdvice *item = g_ptr_array_index (advice, i);

      g_assert_nonnull (item->title);
      g_assert_nonnull (item->text);
      g_assert_cmpstr (item->title, !=, "");
      g_assert_cmpstr (item->text, !=, "");
      g_assert_true (g_utf8_validate (item->title, -1, NULL));
      g_assert_true (g_utf8_validate (item->text, -1, NULL));
      g_assert_null (strchr (item->title, '\n'));
      g_assert_nonnull (item->commands);

      for (guint j = 0; item->commands[j] != NULL; j++)
        {
          g_assert_cmpstr (item->commands[j], !=, "");
          g_assert_true (g_utf8_validate (item->commands[j], -1, NULL));
          g_assert_null (strchr (item->commands[j], '\n'));
        }
    }
}

/* Each front end gives its own command for the port, and none of the others'. */
static void
test_front_ends (void)
{
  for (guint f = 0; f < G_N_ELEMENTS (allow_587); f++)
    {
      g_autoptr(DoctorCheck) check = NULL;

      fake_machine (allow_587[f].front_end, FALSE, "full", NULL);
      check = advise ("smtp.example.com", 587, "connection-timeout");
      assert_well_formed (check);

      g_test_message ("%s", allow_587[f].front_end);
      g_assert_true (has_command (check, allow_587[f].allow));
      for (guint other = 0; other < G_N_ELEMENTS (allow_587); other++)
        {
          if (other != f)
            g_assert_false (has_command (check, allow_587[other].allow));
        }

      /* The server is named with its port where the rule is explained. */
      g_assert_true (advice_mentions (check, "smtp.example.com:587"));
      g_assert_true (has_command (check, "Test-NetConnection smtp.example.com -Port 587"));
      g_assert_true (has_command (check, "nc -vz smtp.example.com 587"));
      g_assert_false (advice_mentions (check, "Flatpak"));
    }

  /* The rules are shown before they are changed, and firewalld loads what it was given. */
  fake_machine ("ufw", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-filtered");

    g_assert_true (has_command (check, "sudo ufw status verbose"));
  }
  fake_machine ("firewalld", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-timeout");

    g_assert_true (has_command (check, "sudo firewall-cmd --list-all"));
    g_assert_true (has_command (check, "sudo firewall-cmd --reload"));
    /* A name may have IPv6 addresses as well. */
    g_assert_true (commands_contain (check, "--add-rule ipv6 filter OUTPUT 0 -p tcp --dport 587"));
    g_assert_true (advice_mentions (check, "by default"));
  }
  fake_machine ("nftables", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-timeout");

    g_assert_true (has_command (check, "sudo nft list ruleset"));
    g_assert_true (advice_mentions (check, "may differ"));
  }
  fake_machine ("iptables", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-timeout");

    g_assert_true (has_command (check, "sudo iptables -L OUTPUT -n -v"));
    g_assert_true (has_command (check, "sudo ip6tables -I OUTPUT -p tcp --dport 587 -j ACCEPT"));
  }
}

/* Without a front end, no Linux command, but the rest of the advice. */
static void
test_no_front_end (void)
{
  g_autoptr(DoctorCheck) check = NULL;

  fake_default ();
  check = advise ("smtp.example.com", 587, "connection-timeout");
  assert_well_formed (check);

  g_assert_false (commands_contain (check, "sudo "));
  g_assert_true (advice_mentions (check, "No firewall"));
  g_assert_true (advice_mentions (check, "hotspot"));
  g_assert_true (advice_mentions (check, "VPN"));
  g_assert_true (has_command (check, "Test-NetConnection smtp.example.com -Port 587"));
  g_assert_true (commands_contain (check, "New-NetFirewallRule -DisplayName \"SMTP 587 out\" "
                                          "-Direction Outbound -Protocol TCP -RemotePort 587 "
                                          "-Action Allow"));
  g_assert_true (has_command (check, "nc -vz smtp.example.com 587"));
  g_assert_true (advice_mentions (check, "blocks only incoming"));
}

/* Inside Flatpak the firewall is the host's: the commands are for a terminal there. */
static void
test_flatpak (void)
{
  fake_machine ("none", TRUE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-timeout");

    assert_well_formed (check);
    g_assert_true (doctor_firewall_in_flatpak ());
    g_assert_true (advice_mentions (check, "Flatpak"));
    g_assert_true (advice_mentions (check, "outside the sandbox"));
    g_assert_true (has_command (check, "sudo ufw status verbose"));
    g_assert_true (has_command (check, "sudo firewall-cmd --list-all"));
    g_assert_true (has_command (check, "sudo nft list ruleset"));
    g_assert_true (has_command (check, "sudo ufw allow out 587/tcp"));
    g_assert_true (has_command (check, "nc -zv smtp.example.com 587"));
    /* No claim about a firewall the sandbox cannot see. */
    g_assert_false (advice_mentions (check, "No firewall"));
  }

  fake_machine ("firewalld", TRUE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "smtp-ports-filtered");

    assert_well_formed (check);
    g_assert_true (advice_mentions (check, "Flatpak"));
    g_assert_true (advice_mentions (check, "firewalld"));
    g_assert_true (has_command (check, allow_587[1].allow));
    g_assert_false (has_command (check, "sudo ufw allow out 587/tcp"));
  }

  fake_machine ("ufw", FALSE, "full", NULL);
  g_assert_false (doctor_firewall_in_flatpak ());
}

/* Port 25 alone blocked: the ISP, and the submission ports instead. */
static void
test_port_25_blocked (void)
{
  g_autoptr(DoctorCheck) check = NULL;
  g_autoptr(DoctorCheck) timeout_25 = NULL;
  g_autoptr(DoctorCheck) timeout_587 = NULL;

  fake_machine ("ufw", FALSE, "full", NULL);
  check = advise ("smtp.example.com", 25, "port-25-blocked");
  assert_well_formed (check);
  g_assert_cmpuint (doctor_check_get_advice (check)->len, >=, 1);
  g_assert_true (advice_mentions (check, "Internet provider"));
  g_assert_true (advice_mentions (check, "587"));
  g_assert_true (advice_mentions (check, "465"));
  /* Another port works, so the network is up and this machine is not the one in the way. */
  g_assert_false (commands_contain (check, "sudo "));

  /* A timeout on port 25 says the same; on another port it does not. */
  timeout_25 = advise ("smtp.example.com", 25, "connection-timeout");
  g_assert_true (advice_mentions (timeout_25, "Port 25 in particular"));
  g_assert_true (has_command (timeout_25, "sudo ufw allow out 25/tcp"));
  timeout_587 = advise ("smtp.example.com", 587, "connection-timeout");
  g_assert_false (advice_mentions (timeout_587, "Port 25"));
}

/* No mail port gets through: this network blocks mail; another one tells. */
static void
test_smtp_ports_filtered (void)
{
  g_autoptr(DoctorCheck) check = NULL;
  DoctorAdvice *first;

  fake_machine ("nftables", FALSE, "full", NULL);
  check = advise ("smtp.example.com", 587, "smtp-ports-filtered");
  assert_well_formed (check);

  g_assert_true (advice_mentions (check, "another network"));
  g_assert_true (advice_mentions (check, "hotspot"));
  g_assert_true (advice_mentions (check, "VPN"));
  g_assert_true (advice_mentions (check, "hotel"));
  g_assert_true (advice_mentions (check, "administrator"));
  /* The network's block is the likelier cause, so it comes first. */
  first = g_ptr_array_index (doctor_check_get_advice (check), 0);
  g_assert_cmpstr (first->title, ==, "This network blocks outgoing mail");
  g_assert_true (has_command (check, allow_587[2].allow));
}

static void
test_network_state (void)
{
  g_autofree char *full = NULL;

  fake_machine ("ufw", FALSE, "portal", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-timeout");
    g_autofree char *sentence = doctor_network_describe ();
    DoctorAdvice *first;

    assert_well_formed (check);
    first = g_ptr_array_index (doctor_check_get_advice (check), 0);
    g_assert_cmpstr (first->title, ==, "Sign in to the network first");
    g_assert_true (strstr (first->text, "portal page first") != NULL);
    g_assert_nonnull (sentence);
    g_assert_true (strstr (sentence, "portal") != NULL);
    g_assert_true (doctor_network_is_available ());
    g_assert_cmpint (doctor_network_get_state (), ==, DOCTOR_NETWORK_PORTAL);
  }

  fake_machine ("ufw", FALSE, "none", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "network-unreachable");
    g_autofree char *sentence = doctor_network_describe ();

    g_assert_true (advice_mentions (check, "not connected"));
    g_assert_cmpstr (sentence, ==, "This computer is not connected to a network.");
    g_assert_false (doctor_network_is_available ());
    /* No firewall advice for a missing route. */
    g_assert_false (commands_contain (check, "sudo "));
  }

  fake_machine ("ufw", FALSE, "limited", NULL);
  {
    g_autofree char *sentence = doctor_network_describe ();

    g_assert_nonnull (sentence);
    g_assert_true (strstr (sentence, "part of the Internet") != NULL);
  }

  fake_machine ("ufw", FALSE, "local", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "host-unreachable");
    g_autofree char *sentence = doctor_network_describe ();

    g_assert_true (advice_mentions (check, "local network only"));
    g_assert_true (strstr (sentence, "local network only") != NULL);
  }

  /* Online: nothing to say about the network itself. */
  fake_machine ("ufw", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "network-unreachable");

    g_assert_cmpuint (doctor_check_get_advice (check)->len, ==, 0);
  }
  full = doctor_network_describe ();
  g_assert_null (full);

  /* Something got through: a portal or an outage cannot be the explanation. */
  fake_machine ("ufw", FALSE, "portal", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "some-ports-filtered");

    g_assert_false (advice_mentions (check, "portal"));
  }
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 25, "port-25-blocked");

    g_assert_false (advice_mentions (check, "portal"));
  }
}

static void
test_metered (void)
{
  g_setenv ("DOCTOR_TEST_METERED", "1", TRUE);
  g_assert_true (doctor_network_is_metered ());
  g_setenv ("DOCTOR_TEST_METERED", "0", TRUE);
  g_assert_false (doctor_network_is_metered ());
}

/* A proxy is named (without its password), and said not to carry mail. */
static void
test_proxy (void)
{
  fake_machine ("none", FALSE, "full", "http://someone:hunter2@proxy.example.net:3128/");
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-timeout");
    g_autofree char *proxy = doctor_network_get_proxy ("smtp.example.com", 587);
    g_autofree char *sentence = doctor_network_describe ();
    g_autofree char *for_host = doctor_network_describe_for_host ("smtp.example.com", 587);

    assert_well_formed (check);
    g_assert_cmpstr (proxy, ==, "http://proxy.example.net:3128");
    g_assert_true (advice_mentions (check, "http://proxy.example.net:3128"));
    g_assert_true (advice_mentions (check, "does not go through HTTP proxies"));
    g_assert_false (advice_mentions (check, "hunter2"));
    g_assert_false (advice_mentions (check, "someone"));
    g_assert_nonnull (sentence);
    g_assert_true (strstr (sentence, "proxy.example.net:3128") != NULL);
    g_assert_null (strstr (sentence, "hunter2"));
    g_assert_cmpstr (sentence, ==, for_host);
  }
  {
    /* A refusal is the server's answer: a proxy does not explain it. */
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "connection-refused");

    g_assert_false (advice_mentions (check, "proxy"));
  }

  fake_machine ("none", FALSE, "full", "socks5://[2001:db8::8]:1080");
  {
    g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, "smtp-ports-filtered");

    g_assert_true (advice_mentions (check, "socks5://[2001:db8::8]:1080"));
    g_assert_true (advice_mentions (check, "directly, without it"));
  }

  /* The network's state comes first in the sentence: one sentence only. */
  fake_machine ("none", FALSE, "portal", "http://proxy.example.net:3128");
  {
    g_autofree char *sentence = doctor_network_describe ();

    g_assert_null (strstr (sentence, "proxy.example.net"));
  }

  fake_machine ("none", FALSE, "full", "");
  g_assert_null (doctor_network_get_proxy ("smtp.example.com", 587));
}

/* An IPv6 address goes in brackets where a port follows it, and only its rules are given. */
static void
test_ipv6 (void)
{
  fake_machine ("ufw", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("::1", 465, "connection-timeout");

    assert_well_formed (check);
    g_assert_true (advice_mentions (check, "[::1]:465"));
    g_assert_false (advice_mentions (check, " ::1:465"));
    g_assert_true (has_command (check, "sudo ufw allow out 465/tcp"));
    g_assert_true (has_command (check, "Test-NetConnection ::1 -Port 465"));
    g_assert_true (has_command (check, "nc -vz ::1 465"));
  }

  fake_machine ("firewalld", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) check = advise ("2001:db8::25", 465, "connection-filtered");

    g_assert_true (advice_mentions (check, "[2001:db8::25]:465"));
    g_assert_true (commands_contain (check, "--add-rule ipv6 filter OUTPUT 0 -p tcp --dport 465"));
    g_assert_false (commands_contain (check, "ipv4"));
  }

  fake_machine ("iptables", FALSE, "full", NULL);
  {
    g_autoptr(DoctorCheck) v6 = advise ("::1", 465, "connection-timeout");
    g_autoptr(DoctorCheck) v4 = advise ("192.0.2.25", 465, "connection-timeout");

    g_assert_true (has_command (v6, "sudo ip6tables -I OUTPUT -p tcp --dport 465 -j ACCEPT"));
    g_assert_false (commands_contain (v6, "sudo iptables"));
    g_assert_true (has_command (v4, "sudo iptables -I OUTPUT -p tcp --dport 465 -j ACCEPT"));
    g_assert_false (commands_contain (v4, "ip6tables"));
    g_assert_true (advice_mentions (v4, "192.0.2.25:465"));
  }
}

/* Commands take the name as DNS knows it; texts as the user wrote it. */
static void
test_idn_host (void)
{
  g_autoptr(DoctorCheck) check = NULL;

  fake_machine ("ufw", FALSE, "full", NULL);
  check = advise ("smtp.bücher.example", 587, "connection-timeout");
  assert_well_formed (check);
  g_assert_true (has_command (check, "Test-NetConnection smtp.xn--bcher-kva.example -Port 587"));
  g_assert_true (advice_mentions (check, "smtp.bücher.example:587"));
}

/* @port, when given, is the one the commands open, not the target's. */
static void
test_explicit_port (void)
{
  g_autoptr(DoctorTarget) target = doctor_target_new ("smtp.example.com", 25,
                                                      DOCTOR_SECURITY_STARTTLS);
  g_autoptr(DoctorCheck) check = doctor_check_new ("connect");
  g_autoptr(DoctorCheck) fallback = doctor_check_new ("connect");
  g_autoptr(DoctorTarget) no_port = doctor_target_new ("smtp.example.com", 0,
                                                       DOCTOR_SECURITY_TLS);

  fake_machine ("ufw", FALSE, "full", NULL);
  doctor_firewall_add_advice (check, target, 2525, "some-ports-filtered");
  g_assert_true (has_command (check, "sudo ufw allow out 2525/tcp"));
  g_assert_false (has_command (check, "sudo ufw allow out 25/tcp"));

  /* No port anywhere: the security mode's usual one. */
  doctor_firewall_add_advice (fallback, no_port, 0, "connection-timeout");
  g_assert_true (has_command (fallback, "sudo ufw allow out 465/tcp"));
}

/* Every situation with every machine: well formed, and only the situations it knows. */
static void
test_every_situation (void)
{
  static const char *const others[] = {
    "dns-not-found", "dns-temporary-failure", "auth-failed", "certificate-expired",
    "greeting-timeout", "not-reached", "", "ipv6-broken",
  };

  for (guint f = 0; f < G_N_ELEMENTS (front_ends); f++)
    for (guint flatpak = 0; flatpak < 2; flatpak++)
      for (guint c = 0; c < G_N_ELEMENTS (connectivities); c++)
        {
          fake_machine (front_ends[f], flatpak, connectivities[c],
                        c % 2 == 0 ? NULL : "http://proxy.example.net:8080");

          for (guint s = 0; s < G_N_ELEMENTS (situations); s++)
            {
              g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, situations[s]);
              g_autoptr(DoctorCheck) v6 = advise ("2001:db8::1", 465, situations[s]);

              assert_well_formed (check);
              assert_well_formed (v6);

              /* Something useful is said about every failure, unless the network is fine and
               * a missing route is already explained by the reason's own advice. */
              if (!g_str_equal (situations[s], "network-unreachable") || c != 0)
                g_assert_cmpuint (doctor_check_get_advice (check)->len, >=, 1);
            }

          for (guint o = 0; o < G_N_ELEMENTS (others); o++)
            {
              g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, others[o]);

              g_assert_cmpuint (doctor_check_get_advice (check)->len, ==, 0);
            }
        }

  /* A firewall command only where a firewall can be the cause. */
  fake_machine ("ufw", FALSE, "full", NULL);
  {
    static const char *const no_firewall[] = {
      "host-unreachable", "network-unreachable", "port-25-blocked",
      "host-unreachable-or-offline",
    };

    for (guint i = 0; i < G_N_ELEMENTS (no_firewall); i++)
      {
        g_autoptr(DoctorCheck) check = advise ("smtp.example.com", 587, no_firewall[i]);

        g_assert_false (commands_contain (check, "ufw"));
      }
  }
}

static void
test_codes (void)
{
  g_assert_cmpstr (doctor_firewall_to_string (DOCTOR_FIREWALL_UFW), ==, "ufw");
  g_assert_cmpstr (doctor_firewall_to_string (DOCTOR_FIREWALL_FIREWALLD), ==, "firewalld");
  g_assert_cmpstr (doctor_firewall_to_string (DOCTOR_FIREWALL_NFTABLES), ==, "nftables");
  g_assert_cmpstr (doctor_firewall_to_string (DOCTOR_FIREWALL_IPTABLES), ==, "iptables");
  g_assert_cmpstr (doctor_firewall_to_string (DOCTOR_FIREWALL_NONE), ==, "none");
  g_assert_cmpstr (doctor_firewall_get_label (DOCTOR_FIREWALL_UFW), ==, "UFW");

  for (guint i = 0; i < G_N_ELEMENTS (front_ends); i++)
    {
      g_setenv ("DOCTOR_TEST_FIREWALL", front_ends[i], TRUE);
      g_assert_cmpstr (doctor_firewall_to_string (doctor_firewall_detect ()), ==,
                       front_ends[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (connectivities); i++)
    {
      g_setenv ("DOCTOR_TEST_CONNECTIVITY", connectivities[i], TRUE);
      g_assert_cmpstr (doctor_network_state_to_string (doctor_network_get_state ()), ==,
                       connectivities[i]);
    }
}

/* Without the seam, the machine itself: whatever it has, the answers are well formed. */
static void
test_real_machine (void)
{
  DoctorFirewall firewall;
  DoctorNetworkState state;
  g_autofree char *proxy = NULL;
  g_autofree char *sentence = NULL;
  g_autoptr(DoctorCheck) check = NULL;

  g_unsetenv ("DOCTOR_TEST_FIREWALL");
  g_unsetenv ("DOCTOR_TEST_FLATPAK");
  g_unsetenv ("DOCTOR_TEST_CONNECTIVITY");
  g_unsetenv ("DOCTOR_TEST_METERED");
  g_unsetenv ("DOCTOR_TEST_PROXY");

  firewall = doctor_firewall_detect ();
  g_assert_cmpint (firewall, >=, DOCTOR_FIREWALL_NONE);
  g_assert_cmpint (firewall, <=, DOCTOR_FIREWALL_IPTABLES);
  g_test_message ("firewall: %s, flatpak: %d", doctor_firewall_to_string (firewall),
                  doctor_firewall_in_flatpak ());

  state = doctor_network_get_state ();
  g_assert_cmpint (state, >=, DOCTOR_NETWORK_NONE);
  g_assert_cmpint (state, <=, DOCTOR_NETWORK_FULL);
  g_assert_true (doctor_network_is_available () == (state != DOCTOR_NETWORK_NONE));
  (void) doctor_network_is_metered ();
  g_test_message ("network: %s", doctor_network_state_to_string (state));

  proxy = doctor_network_get_proxy ("localhost", 587);
  if (proxy != NULL)
    g_assert_true (g_utf8_validate (proxy, -1, NULL));

  sentence = doctor_network_describe ();
  if (sentence != NULL)
    g_assert_true (g_utf8_validate (sentence, -1, NULL));

  check = advise ("smtp.example.com", 587, "connection-timeout");
  assert_well_formed (check);
  g_assert_cmpuint (doctor_check_get_advice (check)->len, >=, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/firewall/codes", test_codes);
  g_test_add_func ("/firewall/front-ends", test_front_ends);
  g_test_add_func ("/firewall/no-front-end", test_no_front_end);
  g_test_add_func ("/firewall/flatpak", test_flatpak);
  g_test_add_func ("/firewall/port-25-blocked", test_port_25_blocked);
  g_test_add_func ("/firewall/smtp-ports-filtered", test_smtp_ports_filtered);
  g_test_add_func ("/firewall/network-state", test_network_state);
  g_test_add_func ("/firewall/metered", test_metered);
  g_test_add_func ("/firewall/proxy", test_proxy);
  g_test_add_func ("/firewall/ipv6", test_ipv6);
  g_test_add_func ("/firewall/idn-host", test_idn_host);
  g_test_add_func ("/firewall/explicit-port", test_explicit_port);
  g_test_add_func ("/firewall/every-situation", test_every_situation);
  /* Last: it clears the seam. */
  g_test_add_func ("/firewall/real-machine", test_real_machine);

  return g_test_run ();
}
