/*
 * ae_json.h — JSON text helpers shared by ae_model_info and ae_export.
 *
 * Numbers are written in their shortest round-trip form (float4 values as
 * float4, so 0.1f prints as 0.1 and reads back as the same float); NaN and
 * ±Infinity, which JSON cannot express, are written as null.
 */
#ifndef AE_JSON_H
#define AE_JSON_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

extern void ae_json_float4(StringInfo buf, float v);
extern void ae_json_float8(StringInfo buf, double v);
extern void ae_json_float4_array(StringInfo buf, const float *v, size_t n);
extern void ae_json_float8_array(StringInfo buf, const double *v, size_t n);

/* "key": — with a comma before it unless first */
extern void ae_json_key(StringInfo buf, const char *key, bool first);

/* Parse the text built in buf into a jsonb value. */
extern Jsonb *ae_json_finish(StringInfo buf);

#endif							/* AE_JSON_H */
