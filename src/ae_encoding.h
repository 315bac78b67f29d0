/*
 * ae_encoding.h — how a mixed-type model turns a table row into its input
 * row, and back: the per-column encoding stored with the model.
 *
 * Column kinds (by the column's base type):
 *   numeric       smallint, integer, bigint, real, double precision, numeric:
 *                 one input, normalised like a numeric model's
 *   categorical   text, varchar, char(n) (trailing blanks removed, as the
 *                 cast to text does), enums (the label), boolean ('true' /
 *                 'false'): one softmax group over the vocabulary learnt in
 *                 training, then "other" (every category not in the
 *                 vocabulary), then NULL when the column has a missing state
 *   date          three inputs: sin and cos of the day of the week, and the
 *                 time in days since 2000-01-01
 *   timestamp,    five inputs: sin and cos of the time of day, sin and cos
 *   timestamptz   of the day of the week, and the time in days since
 *                 2000-01-01 (fractional).  A timestamp is read as the wall
 *                 clock it holds; a timestamptz as UTC, whatever the
 *                 session's TimeZone, so that a model scores the same in
 *                 every session (convert with AT TIME ZONE in a view to
 *                 learn local hours)
 * A numeric or date column with a missing state has a second part, its
 * missing indicator: a softmax group of two (value, NULL), reconstructed
 * with the cross-entropy a categorical column's NULL category gets, so that
 * a NULL costs the same in either kind of column; a NULL's features take
 * the training mean (0 once normalised).
 *
 * Input layout: the plain features of every numeric and date column in
 * column order, then the groups (categorical vocabularies and missing
 * indicators) in column order.  Slot weights: every plain feature of a
 * column and a column's group carry the column's weight (option
 * column_weights, default 1).
 *
 * Stored as JSON (the bundle's encoding text, the "encoding" member of an
 * exported document):
 *   {"format": 1, "columns": [{"name": "amount", "kind": "numeric",
 *     "missing": true, "weight": 1}, {"name": "country", "kind":
 *     "categorical", "missing": false, "weight": 1, "categories": ["US",
 *     "NZ"]}, ...]}
 */
#ifndef AE_ENCODING_H
#define AE_ENCODING_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "ae_bundle.h"
#include "ae_groups.h"

typedef enum AeColumnKind
{
	AE_COL_NUMERIC = 0,
	AE_COL_CATEGORICAL,
	AE_COL_DATE,
	AE_COL_TIMESTAMP,
	AE_COL_TIMESTAMPTZ
} AeColumnKind;

#define AE_ENCODING_FORMAT		1
#define AE_DATE_FEATURES		3	/* dow sin, dow cos, days */
#define AE_TIMESTAMP_FEATURES	5	/* tod sin, tod cos, dow sin, dow cos, days */

typedef struct AeCategoryIndex AeCategoryIndex;

typedef struct AeColumnEncoding
{
	char	   *name;
	AeColumnKind kind;
	bool		missing;		/* has a learnt missing state */
	double		weight;
	int			first;			/* first plain feature (numeric, date) */
	int			n_feat;			/* plain features: 1, 3 or 5 (0 for categorical) */
	int			slot;			/* the first feature's slot (ae_groups.h) */
	int			group;			/* its softmax group, or -1: a categorical column's
								 * vocabulary (categories, other [, NULL]), or the
								 * missing indicator (value, NULL) of another column */
	int			group_first;	/* first input of the group */
	int			group_width;
	int			group_slot;
	int			n_categories;	/* the vocabulary, without "other" and NULL */
	char	  **categories;
	AeCategoryIndex *index;		/* category → position, for encoding */
} AeColumnEncoding;

typedef struct AeEncoding
{
	int			n_columns;
	AeColumnEncoding *cols;
	int			d;				/* inputs */
	AeGroups	groups;			/* n_groups 0 when no column is categorical */
} AeEncoding;

/* The kind of a column of type typid (its base type); false when none fits. */
extern bool AeColumnKindOf(Oid typid, AeColumnKind *kind);
extern const char *AeColumnKindName(AeColumnKind kind);

/* Fills first/width/slot of every column, d and the groups (in CurrentMemoryContext). */
extern void AeEncodingLayout(AeEncoding *enc);

/* A column's part of a row's slot errors (its features' and its group's). */
extern double AeColumnSlotSum(const AeColumnEncoding *col, const float *slot_errors);

/* The encoding as JSON text (the format above). */
extern char *AeEncodingToJson(const AeEncoding *enc);

/*
 * Parse and validate an encoding (a JSON object); errors are raised with
 * errcode and what ("cannot import model", ...) naming the member at fault.
 * Builds the layout and the category indexes.
 */
extern AeEncoding *AeEncodingFromJsonb(JsonbContainer *obj, int sqlstate, const char *what);
extern AeEncoding *AeEncodingFromText(const char *json, int sqlstate, const char *what);

/*
 * Check a parsed encoding against a model: d inputs, its groups (the
 * same tiling and weights) and its column names.
 */
extern void AeEncodingCheckModel(const AeEncoding *enc, const AeBundle *b, int sqlstate,
								 const char *what);

/*
 * Values of a column as the encoder reads them.  A categorical value
 * becomes its text (palloc'd), a date/time value days since 2000-01-01, a
 * numeric one a double.  Infinite dates and timestamps are refused (22008,
 * naming the column).
 */
extern char *AeCategoryText(Datum value, Oid typid);
extern double AeNumericValue(Datum value, Oid typid);
extern double AeTimeValue(Datum value, Oid typid, const char *column);

/* The plain features of a date/time value t (days): AE_*_FEATURES floats. */
extern void AeTimeFeatures(AeColumnKind kind, double t, double *f);

/* Position of category text in a column's vocabulary, or -1. */
extern int	AeCategoryLookup(const AeColumnEncoding *col, const char *text);

/*
 * Encode one row: values[c] / nulls[c] / types[c] are column c's value,
 * NULL flag and type.  Writes the d raw inputs into x (plain ones in
 * original units: normalise afterwards); a NULL in a column with a missing
 * state becomes mean[j] for its features and indicator 1.  *unknown counts
 * the categories sent to "other" (a NULL in a categorical column without a
 * NULL category is one of them).  Returns false with check filled in
 * (1-based column) for a NaN, infinite or out-of-range number, and for a
 * NULL in a numeric or date column without a missing state (AE_ROW_NULL:
 * the row is otherwise complete and that column's inputs hold mean[j], so
 * the caller may impute it instead of reporting it).
 */
struct AeRowCheck;
extern bool AeEncodeRow(const AeEncoding *enc, const Datum *values, const bool *nulls,
						const Oid *types, const float *mean, float *x, int *unknown,
						struct AeRowCheck *check);

#endif							/* AE_ENCODING_H */
