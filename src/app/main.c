/* main.c: smtp-doctor, the desktop app.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "doctor-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(DoctorApplication) app = NULL;
  const char *localedir;

  setlocale (LC_ALL, "");
  /* The translations of another tree, such as the build's (the tests use it). */
  localedir = g_getenv ("SMTP_DOCTOR_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = doctor_application_new ();

  return g_application_run (G_APPLICATION (app), argc, argv);
}
