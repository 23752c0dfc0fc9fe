/* doctor-reply.h: SMTP replies and the bounded parser that makes them from bytes.
 *
 * Copyright 2026 The SMTP Doctor developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The parser is pure: bytes in, replies or an error out, with explicit limits on the length of
 * a line, the number of lines in a reply and the bytes in a reply. It never grows past those
 * limits whatever the server sends, and it is the unit the fuzzers drive.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 5321 §4.5.3.1.5 allows 512 octets a line; real servers go over it, so the cap is far
 * above that and the excess is only noted. */
#define DOCTOR_REPLY_RFC_LINE_LENGTH 512
#define DOCTOR_REPLY_MAX_LINE_LENGTH 8192
#define DOCTOR_REPLY_MAX_LINES       128
#define DOCTOR_REPLY_MAX_BYTES       (64 * 1024)

typedef struct
{
  guint      code;            /* 200..599 */
  char      *enhanced;        /* "5.7.8", or NULL when the reply has none */
  GPtrArray *lines;           /* (element-type utf8) text after the code, made safe to show */
  guint      bare_lf : 1;     /* at least one line ended in LF without CR */
  guint      over_rfc_length : 1;
} DoctorReply;

DoctorReply *doctor_reply_new          (guint              code);
void         doctor_reply_free         (DoctorReply       *reply);
const char  *doctor_reply_get_line     (const DoctorReply *reply,
                                        guint              index);
char        *doctor_reply_to_string    (const DoctorReply *reply);
char        *doctor_reply_join_text    (const DoctorReply *reply);
gboolean     doctor_reply_is_positive  (const DoctorReply *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorReply, doctor_reply_free)

typedef struct _DoctorReplyParser DoctorReplyParser;

typedef enum
{
  DOCTOR_PARSE_NEED_MORE,     /* every byte given was consumed; no reply is complete yet */
  DOCTOR_PARSE_REPLY,         /* a reply is complete; bytes after it were not consumed */
  DOCTOR_PARSE_ERROR,         /* the input broke a rule; the parser must not be fed again */
} DoctorParseStatus;

DoctorReplyParser *doctor_reply_parser_new         (void);
void               doctor_reply_parser_free        (DoctorReplyParser  *parser);
void               doctor_reply_parser_reset       (DoctorReplyParser  *parser);
DoctorParseStatus  doctor_reply_parser_feed        (DoctorReplyParser  *parser,
                                                    const guint8       *data,
                                                    gsize               length,
                                                    gsize              *consumed,
                                                    DoctorReply       **reply,
                                                    GError            **error);
gboolean           doctor_reply_parser_is_idle     (DoctorReplyParser  *parser);
char              *doctor_reply_parser_get_partial (DoctorReplyParser  *parser);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DoctorReplyParser, doctor_reply_parser_free)

char *doctor_text_make_safe (const char *data,
                             gssize      length);

G_END_DECLS
