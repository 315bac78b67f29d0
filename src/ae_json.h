/*
 * ae_json.h — JSON helpers shared by ae_model_info, ae_export, ae_import
 * and the jsonb options of ae_fit.
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

#include "ae_bundle.h"

extern void ae_json_float4(StringInfo buf, float v);
extern void ae_json_float8(StringInfo buf, double v);
extern void ae_json_float4_array(StringInfo buf, const float *v, size_t n);
extern void ae_json_float8_array(StringInfo buf, const double *v, size_t n);

/* "key": — with a comma before it unless first */
extern void ae_json_key(StringInfo buf, const char *key, bool first);

/* A model's input column names (n_columns NUL-terminated strings) or null. */
extern void ae_json_columns(StringInfo buf, int n_columns, const char *columns);

/* "rows", "epochs", "train_loss", "val_loss" of a model, each after a comma. */
extern void ae_json_training(StringInfo buf, const AeBundle *b);

/* How a JSON value is named in error messages: "a string", "an array", … */
extern const char *ae_json_type_name(const JsonbValue *v);

/* Parse the text built in buf into a jsonb value. */
extern Jsonb *ae_json_finish(StringInfo buf);

#endif							/* AE_JSON_H */
