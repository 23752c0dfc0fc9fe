/* doctor-deadline.c: a cancellable that also fires when a deadline passes.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "doctor-deadline-private.h"

struct _DoctorDeadline
{
  GCancellable *cancellable;
  GCancellable *parent;
  GSource      *timer;
  gulong        parent_handler;
  guint         timeout_ms;
  gboolean      expired;
};

static gboolean
on_deadline (gpointer user_data)
{
  DoctorDeadline *deadline = user_data;

  deadline->expired = TRUE;
  g_cancellable_cancel (deadline->cancellable);
  g_clear_pointer (&deadline->timer, g_source_unref);

  return G_SOURCE_REMOVE;
}

static void
on_parent_cancelled (GCancellable *parent,
                     gpointer      user_data)
{
  GCancellable *cancellable = user_data;

  g_cancellable_cancel (cancellable);
}

DoctorDeadline *
doctor_deadline_new (GCancellable *parent,
                     guint         timeout_ms)
{
  DoctorDeadline *deadline = g_new0 (DoctorDeadline, 1);

  deadline->cancellable = g_cancellable_new ();
  deadline->timeout_ms = timeout_ms;

  if (parent != NULL)
    {
      deadline->parent = g_object_ref (parent);
      /* Runs at once when the parent is already cancelled. */
      deadline->parent_handler = g_cancellable_connect (parent, G_CALLBACK (on_parent_cancelled),
                                                        g_object_ref (deadline->cancellable),
                                                        g_object_unref);
    }

  if (timeout_ms > 0)
    {
      deadline->timer = g_timeout_source_new (timeout_ms);
      g_source_set_callback (deadline->timer, on_deadline, deadline, NULL);
      g_source_set_static_name (deadline->timer, "[smtp-doctor] deadline");
      g_source_attach (deadline->timer, g_main_context_get_thread_default ());
    }

  return deadline;
}

void
doctor_deadline_free (DoctorDeadline *deadline)
{
  if (deadline == NULL)
    return;

  if (deadline->timer != NULL)
    {
      g_source_destroy (deadline->timer);
      g_clear_pointer (&deadline->timer, g_source_unref);
    }

  if (deadline->parent != NULL)
    {
      g_cancellable_disconnect (deadline->parent, deadline->parent_handler);
      g_clear_object (&deadline->parent);
    }

  g_clear_object (&deadline->cancellable);
  g_free (deadline);
}

GCancellable *
doctor_deadline_get_cancellable (DoctorDeadline *deadline)
{
  return deadline->cancellable;
}

/* TRUE when the deadline passed; FALSE when the parent was cancelled or nothing happened. */
gboolean
doctor_deadline_expired (DoctorDeadline *deadline)
{
  return deadline->expired &&
         (deadline->parent == NULL || !g_cancellable_is_cancelled (deadline->parent));
}

guint
doctor_deadline_get_timeout_ms (DoctorDeadline *deadline)
{
  return deadline->timeout_ms;
}
