/* doctor-transcript-window.c: the SMTP conversation of a run.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Lines are marked as swaks marks them: "<-" from the server, "->" from SMTP Doctor, with "~"
 * instead of "-" once the connection is encrypted. Client lines are bold. The text is inserted
 * as plain text (the core already made server text safe and masked the login), so nothing the
 * server sends can style or hide itself.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "doctor-transcript-window.h"

struct _DoctorTranscriptWindow
{
  AdwWindow        parent_instance;

  /* Template widgets */
  GtkTextView     *text_view;
  AdwWindowTitle  *window_title;
};

G_DEFINE_FINAL_TYPE (DoctorTranscriptWindow, doctor_transcript_window, ADW_TYPE_WINDOW)

char *
doctor_transcript_window_get_text (DoctorTranscriptWindow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static void
on_copy_clicked (DoctorTranscriptWindow *self)
{
  g_autofree char *text = doctor_transcript_window_get_text (self);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text);
}

static void
doctor_transcript_window_class_init (DoctorTranscriptWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/smtpdoctor/SmtpDoctor/doctor-transcript-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DoctorTranscriptWindow, text_view);
  gtk_widget_class_bind_template_child (widget_class, DoctorTranscriptWindow, window_title);
  gtk_widget_class_bind_template_callback (widget_class, on_copy_clicked);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
doctor_transcript_window_init (DoctorTranscriptWindow *self)
{
  GtkTextBuffer *buffer;

  gtk_widget_init_template (GTK_WIDGET (self));

  buffer = gtk_text_view_get_buffer (self->text_view);
  gtk_text_buffer_create_tag (buffer, "client", "weight", PANGO_WEIGHT_BOLD, NULL);
  gtk_text_buffer_create_tag (buffer, "marker", "foreground-rgba", NULL, "scale", 0.9, NULL);
}

static void
fill (DoctorTranscriptWindow *self,
      DoctorDiagnosis        *diagnosis)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GPtrArray *transcript = doctor_diagnosis_get_transcript (diagnosis);
  const DoctorTarget *target = doctor_diagnosis_get_target (diagnosis);
  g_autofree char *subtitle = g_strdup_printf ("%s:%u", target->host,
                                               doctor_target_get_port (target));
  GtkTextIter end;

  adw_window_title_set_subtitle (self->window_title, subtitle);
  gtk_text_buffer_set_text (buffer, "", 0);

  if (transcript->len == 0)
    {
      gtk_text_buffer_get_end_iter (buffer, &end);
      gtk_text_buffer_insert (buffer, &end, _("Nothing was exchanged with the server."), -1);
      return;
    }

  for (guint i = 0; i < transcript->len; i++)
    {
      DoctorTranscriptLine *line = g_ptr_array_index (transcript, i);
      const char *marker = line->from_server ? (line->tls ? "<~ " : "<- ")
                                             : (line->tls ? "~> " : "-> ");

      gtk_text_buffer_get_end_iter (buffer, &end);
      gtk_text_buffer_insert_with_tags_by_name (buffer, &end, marker, -1, "marker", NULL);
      gtk_text_buffer_get_end_iter (buffer, &end);
      if (line->from_server)
        gtk_text_buffer_insert (buffer, &end, line->text, -1);
      else
        gtk_text_buffer_insert_with_tags_by_name (buffer, &end, line->text, -1, "client", NULL);
      gtk_text_buffer_get_end_iter (buffer, &end);
      gtk_text_buffer_insert (buffer, &end, "\n", 1);
    }
}

GtkWidget *
doctor_transcript_window_new (GtkWindow       *parent,
                              DoctorDiagnosis *diagnosis)
{
  DoctorTranscriptWindow *self;

  g_return_val_if_fail (DOCTOR_IS_DIAGNOSIS (diagnosis), NULL);

  self = g_object_new (DOCTOR_TYPE_TRANSCRIPT_WINDOW, "transient-for", parent, NULL);
  fill (self, diagnosis);

  return GTK_WIDGET (self);
}
