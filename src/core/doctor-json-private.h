/* doctor-json-private.h: a lexical scan of JSON text, made before json-glib parses it.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The core reads two kinds of JSON that nobody vouches for: the provider presets (built in,
 * but also fed to the loader by the tests and by fuzzing) and the user's saved profiles. Both
 * run the same scan first, because json-glib 1.6 recurses once per nesting level with no limit
 * (100,000 '[' overflow the stack) and is lenient where JSON is not: comments, single-quoted
 * strings, hexadecimal numbers, raw control characters in strings and a second document after
 * the first. The scan caps the depth and lets only strict JSON through; JsonParser then checks
 * the grammar (the order of tokens), which the scan does not.
 *
 * With DOCTOR_JSON_SCAN_STRICT the scan also refuses text that json-glib would read as
 * something other than what it says, which matters for a file that is read and written back:
 * a key twice in one object (json-glib keeps the last one silently), a number outside the
 * range of a gint64 or a finite double (json-glib turns 99999999999999999999 into -1 and 1e400
 * into an infinity that its generator writes as "inf.0"), a number or a literal that is not
 * JSON's ("01", "tru"), and a \u escape of half a surrogate pair (json-glib makes invalid
 * UTF-8 of it). The caller still validates the text as UTF-8 first; the scan only refuses NUL.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  DOCTOR_JSON_SCAN_DEFAULT = 0,
  DOCTOR_JSON_SCAN_STRICT  = 1 << 0,
} DoctorJsonScanFlags;

/* Errors are set in @error_domain with @syntax_code, or @too_deep_code when arrays and objects
 * are nested deeper than @max_depth. The messages name the byte offset and are not translated:
 * they are for whoever edits the file.
 */
gboolean doctor_json_scan (const char           *data,
                           gsize                 length,
                           guint                 max_depth,
                           DoctorJsonScanFlags   flags,
                           GQuark                error_domain,
                           int                   syntax_code,
                           int                   too_deep_code,
                           GError              **error);

G_END_DECLS
