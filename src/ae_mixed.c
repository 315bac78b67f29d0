/*
 * ae_mixed.c — training on named columns that are not all numbers:
 * categorical, boolean and date/time columns, and NULLs learnt as a
 * missing state (ae_encoding.h says how each is encoded).
 *
 * The rows are gathered in an AeMixedRows store: each row's values as
 * numbers (double), dates and times as they are (int64), and categories as
 * the number of their text in the column's list of distinct texts, with
 * each text's count.  ae_train fills one store in one pass over the
 * relation (ae_scan.c, columns read as they are); the ae_fit aggregate over
 * a row fills one per worker, and the stores of a parallel plan are merged
 * and serialised (ae_agg_row.c).
 *
 * Training from a store: the encoding is learnt — each categorical column's
 * vocabulary (the max_categories most frequent values, ties broken by the
 * text's byte order, so that the same rows give the same model in any
 * order), which columns have a missing state, the weights — and every row
 * is encoded by AeEncodeRow, the very function scoring uses, so training
 * and scoring cannot encode a row differently.  The encoded rows are put in
 * the canonical order (ae_trainer.c) before a NULL's features get the mean
 * of its column's other rows, so that the means, and so the model, do not
 * depend on the order the rows came in.  The rest is an ordinary in-memory
 * training (AeTrainerRun) with the slots and softmax groups of the
 * encoding.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ae_encoding.h"
#include "ae_mixed.h"
#include "ae_rng.h"
#include "ae_strmap.h"

/* ---------------------------------------------------------------- distinct texts */

typedef struct MixedColumn
{
	char	   *name;
	Oid			typid;
	AeColumnKind kind;
	int64		n_null;
	/* categorical: the distinct texts seen, with their counts */
	aestr_hash *index;
	int32		n_texts;
	int32		cap_texts;
	char	  **text;
	int64	   *count;
} MixedColumn;

struct AeMixedRows
{
	MemoryContext cxt;			/* where everything lives */
	int			ncols;
	MixedColumn *cols;
	int64		n;				/* rows kept */
	int64		cap;
	Datum	   *values;			/* cap × ncols: float8, int64 time, or int32 text id */
	bool	   *nulls;
	int64		n_valid;		/* valid rows seen (a reservoir's stream) */
	int64		reservoir;		/* > 0: keep a seeded uniform sample of this many rows */
	AeRng		rng;
};

/* Bytes a kept row costs while gathering: its values and NULL flags. */
#define ROW_BYTES(ncols) ((Size) (ncols) * (sizeof(Datum) + sizeof(bool)))

static int32
TextId(MixedColumn *col, char *text, int64 count)
{
	bool		found;
	AeStrEntry *e = aestr_insert(col->index, text, &found);

	if (!found)
	{
		if (col->n_texts == col->cap_texts)
		{
			col->cap_texts = Max(col->cap_texts * 2, 16);
			col->text = repalloc(col->text, sizeof(char *) * col->cap_texts);
			col->count = repalloc(col->count, sizeof(int64) * col->cap_texts);
		}
		e->key = text;
		e->value = col->n_texts;
		col->text[col->n_texts] = text;
		col->count[col->n_texts] = 0;
		col->n_texts++;
	}
	else
		pfree(text);
	col->count[e->value] += count;
	return e->value;
}

AeMixedRows *
AeMixedRowsCreate(int ncols, char **names, const Oid *typids, int64 reservoir, int64 seed)
{
	AeMixedRows *r = palloc0(sizeof(AeMixedRows));

	r->cxt = CurrentMemoryContext;
	r->ncols = ncols;
	r->cols = palloc0(sizeof(MixedColumn) * ncols);
	r->values = palloc(sizeof(Datum));
	r->nulls = palloc(sizeof(bool));
	r->reservoir = reservoir;
	ae_rng_seed(&r->rng, (uint64) seed ^ UINT64CONST(0x9E3779B97F4A7C15));
	for (int c = 0; c < ncols; c++)
	{
		MixedColumn *col = &r->cols[c];

		col->name = pstrdup(names[c]);
		col->typid = typids[c];
		if (!AeColumnKindOf(col->typid, &col->kind))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("input column \"%s\" has type %s", col->name, format_type_be(col->typid)),
					 errdetail("Input columns must be numeric (real, double precision, numeric, smallint, integer, bigint), "
							   "categorical (text, varchar, char, boolean, an enum) or date/time (date, timestamp, timestamptz), "
							   "or domains over them.")));
		if (col->kind == AE_COL_CATEGORICAL)
		{
			col->index = aestr_create(r->cxt, 64, NULL);
			col->text = palloc(sizeof(char *));
			col->count = palloc(sizeof(int64));
		}
	}
	return r;
}

/* Room for n_more more rows, within autoenc.max_train_memory. */
static void
Reserve(AeMixedRows *r, int64 n_more)
{
	int64		need = r->n + n_more;
	int64		cap;

	if (need <= r->cap)
		return;
	AeTrainerCheckMemory(0, AeTrainerRowBytes(r->ncols, ROW_BYTES(r->ncols)), need);
	cap = Max(Max(r->cap * 2, need), 1024);
	r->values = repalloc_huge(r->values, (Size) cap * r->ncols * sizeof(Datum));
	r->nulls = repalloc_huge(r->nulls, (Size) cap * r->ncols * sizeof(bool));
	r->cap = cap;
}

bool
AeMixedRowsAdd(AeMixedRows *r, const Datum *values, const bool *isnull, bool nulls_learnt,
			   AeRowCheck *check)
{
	MemoryContext old;
	Datum	   *row;
	int64		slot;

	check->problem = AE_ROW_OK;
	/* check everything before anything is kept */
	for (int c = 0; c < r->ncols; c++)
	{
		MixedColumn *col = &r->cols[c];

		if (isnull[c])
		{
			if (!nulls_learnt)
			{
				check->problem = AE_ROW_NULL;
				check->index = c + 1;
				return false;
			}
		}
		else if (col->kind == AE_COL_NUMERIC)
		{
			if (!AeCheckValue(check, c + 1, AeNumericValue(values[c], col->typid)))
				return false;
		}
		else if (col->kind != AE_COL_CATEGORICAL)
			(void) AeTimeValue(values[c], col->typid, col->name);	/* refuses infinity */
	}

	/* where it goes: every row, or a seeded uniform sample (algorithm R) */
	if (r->reservoir > 0 && r->n_valid >= r->reservoir)
	{
		uint64		j = ae_rng_below(&r->rng, (uint64) r->n_valid + 1);

		r->n_valid++;
		if (j >= (uint64) r->reservoir)
			slot = -1;
		else
			slot = (int64) j;
	}
	else
	{
		Reserve(r, 1);
		r->n_valid++;
		slot = r->n++;
	}

	old = MemoryContextSwitchTo(r->cxt);
	row = slot >= 0 ? r->values + (size_t) slot * r->ncols : NULL;
	for (int c = 0; c < r->ncols; c++)
	{
		MixedColumn *col = &r->cols[c];
		Datum		v = (Datum) 0;

		if (isnull[c])
			col->n_null++;
		else if (col->kind == AE_COL_NUMERIC)
			v = Float8GetDatum(AeNumericValue(values[c], col->typid));
		else if (col->kind == AE_COL_CATEGORICAL)
			v = Int32GetDatum(TextId(col, AeCategoryText(values[c], col->typid), 1));	/* counted even when sampled out */
		else
			v = values[c];		/* date / timestamp: passed by value */
		if (row)
			row[c] = v;
	}
	if (row)
		memcpy(r->nulls + (size_t) slot * r->ncols, isnull, sizeof(bool) * r->ncols);
	MemoryContextSwitchTo(old);
	return true;
}

/* ---------------------------------------------------------------- merge and serialise */

static void
CheckSameColumns(const AeMixedRows *a, const AeMixedRows *b)
{
	bool		same = a->ncols == b->ncols;

	for (int c = 0; same && c < a->ncols; c++)
		same = strcmp(a->cols[c].name, b->cols[c].name) == 0 && a->cols[c].kind == b->cols[c].kind;
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("ae_fit rows of one group must have the same columns")));
}

void
AeMixedRowsMerge(AeMixedRows *into, const AeMixedRows *from)
{
	MemoryContext old = MemoryContextSwitchTo(into->cxt);
	int32	  **remap = palloc0(sizeof(int32 *) * from->ncols);

	CheckSameColumns(into, from);
	for (int c = 0; c < from->ncols; c++)
	{
		const MixedColumn *fc = &from->cols[c];
		MixedColumn *ic = &into->cols[c];

		ic->n_null += fc->n_null;
		if (fc->kind != AE_COL_CATEGORICAL)
			continue;
		remap[c] = palloc(sizeof(int32) * Max(fc->n_texts, 1));
		for (int32 i = 0; i < fc->n_texts; i++)
			remap[c][i] = TextId(ic, pstrdup(fc->text[i]), fc->count[i]);
	}
	Reserve(into, from->n);
	for (int64 i = 0; i < from->n; i++)
	{
		Datum	   *dst = into->values + (size_t) (into->n + i) * into->ncols;
		const Datum *src = from->values + (size_t) i * from->ncols;
		const bool *nl = from->nulls + (size_t) i * from->ncols;

		for (int c = 0; c < from->ncols; c++)
			dst[c] = remap[c] && !nl[c] ? Int32GetDatum(remap[c][DatumGetInt32(src[c])]) : src[c];
	}
	memcpy(into->nulls + (size_t) into->n * into->ncols, from->nulls,
		   (Size) from->n * from->ncols * sizeof(bool));
	into->n += from->n;
	into->n_valid += from->n_valid;
	MemoryContextSwitchTo(old);
}

/*
 * The serialised store (pq_send*, network byte order), for a parallel
 * worker's state:
 *   int32 ncols | per column: name, int32 type, int64 n_null, int32 n_texts,
 *   n_texts × (text, int64 count) | int64 n | n rows × ncols × (byte null,
 *   int64 value)
 */
void
AeMixedRowsSerialize(const AeMixedRows *r, StringInfo buf)
{
	pq_sendint32(buf, r->ncols);
	for (int c = 0; c < r->ncols; c++)
	{
		const MixedColumn *col = &r->cols[c];

		pq_sendstring(buf, col->name);
		pq_sendint32(buf, col->typid);
		pq_sendint64(buf, col->n_null);
		pq_sendint32(buf, col->n_texts);
		for (int32 i = 0; i < col->n_texts; i++)
		{
			pq_sendstring(buf, col->text[i]);
			pq_sendint64(buf, col->count[i]);
		}
	}
	pq_sendint64(buf, r->n);
	for (int64 i = 0; i < r->n * r->ncols; i++)
	{
		pq_sendbyte(buf, r->nulls[i] ? 1 : 0);
		pq_sendint64(buf, (int64) r->values[i]);
	}
}

AeMixedRows *
AeMixedRowsDeserialize(StringInfo buf)
{
	int32		ncols = pq_getmsgint(buf, 4);
	char	  **names;
	Oid		   *types;
	AeMixedRows *r;
	int64		n;

	if (ncols < 1 || ncols > AE_MAX_WIDTH || ncols > buf->len - buf->cursor)
		AeFitBadState(psprintf("The state has %d columns.", ncols));
	names = palloc(sizeof(char *) * ncols);
	types = palloc(sizeof(Oid) * ncols);
	/* the column list first, then the texts: a store is made from the list */
	{
		int			start = buf->cursor;

		for (int c = 0; c < ncols; c++)
		{
			int32		n_texts;

			names[c] = pstrdup(pq_getmsgstring(buf));
			types[c] = (Oid) pq_getmsgint(buf, 4);
			(void) pq_getmsgint64(buf);
			n_texts = pq_getmsgint(buf, 4);
			if (n_texts < 0 || n_texts > buf->len - buf->cursor)
				AeFitBadState(psprintf("Column %d claims %d texts.", c + 1, n_texts));
			for (int32 i = 0; i < n_texts; i++)
			{
				(void) pq_getmsgstring(buf);
				(void) pq_getmsgint64(buf);
			}
		}
		buf->cursor = start;
	}
	r = AeMixedRowsCreate(ncols, names, types, 0, 0);
	for (int c = 0; c < ncols; c++)
	{
		MixedColumn *col = &r->cols[c];
		int32		n_texts;

		(void) pq_getmsgstring(buf);
		(void) pq_getmsgint(buf, 4);
		col->n_null = pq_getmsgint64(buf);
		n_texts = pq_getmsgint(buf, 4);
		if (n_texts > 0 && col->kind != AE_COL_CATEGORICAL)
			AeFitBadState(psprintf("Column \"%s\" is not categorical but has texts.", col->name));
		for (int32 i = 0; i < n_texts; i++)
		{
			char	   *text = pstrdup(pq_getmsgstring(buf));
			int64		count = pq_getmsgint64(buf);

			if (count < 1 || TextId(col, text, count) != i)
				AeFitBadState(psprintf("Text %d of column \"%s\" is repeated or has no rows.", i + 1, col->name));
		}
	}
	n = pq_getmsgint64(buf);
	/* what is left must be exactly n rows; divide, never multiply */
	if (n < 0 || (buf->len - buf->cursor) / (9 * (Size) ncols) != (Size) n ||
		(buf->len - buf->cursor) % (9 * (Size) ncols) != 0)
		AeFitBadState(psprintf("%d bytes of rows are left, not " INT64_FORMAT " rows of %d values.",
						  buf->len - buf->cursor, n, ncols));
	Reserve(r, n);
	for (int64 i = 0; i < n; i++)
		for (int c = 0; c < ncols; c++)
		{
			bool		null = pq_getmsgbyte(buf) != 0;
			int64		v = pq_getmsgint64(buf);

			if (!null && r->cols[c].kind == AE_COL_CATEGORICAL && (v < 0 || v >= r->cols[c].n_texts))
				AeFitBadState(psprintf("A row of column \"%s\" names text " INT64_FORMAT " of %d.",
								  r->cols[c].name, v, r->cols[c].n_texts));
			r->nulls[(size_t) i * ncols + c] = null;
			r->values[(size_t) i * ncols + c] = (Datum) v;
		}
	r->n = n;
	r->n_valid = n;
	return r;
}

int64
AeMixedRowsCount(const AeMixedRows *r)
{
	return r->n;
}

Oid *
AeMixedRowsTypes(const AeMixedRows *r)
{
	Oid		   *types = palloc(sizeof(Oid) * r->ncols);

	for (int c = 0; c < r->ncols; c++)
		types[c] = r->cols[c].typid;
	return types;
}

int
AeMixedRowsColumns(const AeMixedRows *r, char ***names)
{
	*names = palloc(sizeof(char *) * r->ncols);
	for (int c = 0; c < r->ncols; c++)
		(*names)[c] = r->cols[c].name;
	return r->ncols;
}

/* ---------------------------------------------------------------- the encoding */

typedef struct Ranked
{
	const char *text;
	int64		count;
} Ranked;

static int
CompareRanked(const void *a, const void *b)
{
	const Ranked *x = a;
	const Ranked *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->text, y->text);
}

/* The column's weight from column_weights (1 when not named there). */
static double
ColumnWeight(Jsonb *weights, const char *name)
{
	JsonbValue	v;

	if (weights == NULL ||
		getKeyJsonValueFromContainer(&weights->root, name, strlen(name), &v) == NULL)
		return 1.0;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v.val.numeric)));
}

static Jsonb *
CheckWeights(const AeMixedRows *r, const AeTrainOptions *opts, const char *what)
{
	Jsonb	   *weights;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (opts->column_weights == NULL)
		return NULL;
	weights = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(opts->column_weights)));
	it = JsonbIteratorInit(&weights->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int c = 0; c < r->ncols; c++)
			known |= strlen(r->cols[c].name) == (size_t) v.val.string.len &&
				memcmp(r->cols[c].name, v.val.string.val, v.val.string.len) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s: option \"column_weights\" names column \"%.*s\", which is not an input column",
							what, Min(v.val.string.len, NAMEDATALEN), v.val.string.val)));
	}
	return weights;
}

static AeEncoding *
LearnEncoding(const AeMixedRows *r, const AeTrainOptions *opts, const char *what)
{
	AeEncoding *enc = palloc0(sizeof(AeEncoding));
	Jsonb	   *weights = CheckWeights(r, opts, what);

	enc->n_columns = r->ncols;
	enc->cols = palloc0(sizeof(AeColumnEncoding) * r->ncols);
	for (int c = 0; c < r->ncols; c++)
	{
		const MixedColumn *col = &r->cols[c];
		AeColumnEncoding *e = &enc->cols[c];

		e->name = col->name;
		e->kind = col->kind;
		e->missing = col->n_null > 0;
		e->weight = ColumnWeight(weights, col->name);
		if (col->kind == AE_COL_CATEGORICAL)
		{
			Ranked	   *all = palloc(sizeof(Ranked) * Max(col->n_texts, 1));

			for (int32 i = 0; i < col->n_texts; i++)
			{
				all[i].text = col->text[i];
				all[i].count = col->count[i];
			}
			qsort(all, col->n_texts, sizeof(Ranked), CompareRanked);
			e->n_categories = Min(col->n_texts, opts->max_categories);
			e->categories = palloc(sizeof(char *) * Max(e->n_categories, 1));
			for (int i = 0; i < e->n_categories; i++)
				e->categories[i] = (char *) all[i].text;
		}
	}
	/* the parse builds the layout and the indexes, and checks what will be stored */
	return AeEncodingFromText(AeEncodingToJson(enc), ERRCODE_INTERNAL_ERROR, what);
}

/* Does the encoding say no more than a numeric model would (numbers only, no NULL, unit weights)? */
static bool
PlainNumeric(const AeEncoding *enc)
{
	for (int c = 0; c < enc->n_columns; c++)
		if (enc->cols[c].kind != AE_COL_NUMERIC || enc->cols[c].missing || enc->cols[c].weight != 1.0)
			return false;
	return true;
}

/*
 * Every kept row into X (n × d, original units), NULLs' features at 0 for
 * now; then, in the canonical order, each plain input's mean over the rows
 * where its column is not NULL (the indicator's NULL input 0), which the
 * NULLs' rows then take.
 */
static float *
EncodeRows(const AeMixedRows *r, const AeEncoding *enc)
{
	int			d = enc->d;
	float	   *X = palloc_extended((Size) Max(r->n, 1) * d * sizeof(float), MCXT_ALLOC_HUGE);
	float	   *zero = palloc0(sizeof(float) * d);
	Datum	   *row = palloc(sizeof(Datum) * r->ncols);
	Oid		   *types = palloc(sizeof(Oid) * r->ncols);
	AeRowCheck	check;
	int			unknown = 0;

	for (int c = 0; c < r->ncols; c++)
		types[c] = r->cols[c].kind == AE_COL_NUMERIC ? FLOAT8OID :
			r->cols[c].kind == AE_COL_CATEGORICAL ? TEXTOID : r->cols[c].typid;
	for (int64 i = 0; i < r->n; i++)
	{
		const Datum *v = r->values + (size_t) i * r->ncols;
		const bool *nl = r->nulls + (size_t) i * r->ncols;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int c = 0; c < r->ncols; c++)
			row[c] = r->cols[c].kind == AE_COL_CATEGORICAL && !nl[c] ?
				PointerGetDatum(cstring_to_text(r->cols[c].text[DatumGetInt32(v[c])])) : v[c];
		AeEncodeRow(enc, row, nl, types, zero, X + (size_t) i * d, &unknown, &check);
		for (int c = 0; c < r->ncols; c++)
			if (r->cols[c].kind == AE_COL_CATEGORICAL && !nl[c])
				pfree(DatumGetPointer(row[c]));
	}
	AeTrainerSortRows(X, r->n, d);

	for (int c = 0; c < enc->n_columns; c++)
	{
		const AeColumnEncoding *col = &enc->cols[c];
		int			null_at = col->group_first + 1;	/* the indicator's NULL input */

		if (col->kind == AE_COL_CATEGORICAL || !col->missing)
			continue;
		for (int k = 0; k < col->n_feat; k++)
		{
			int			j = col->first + k;
			double		sum = 0.0;
			int64		cnt = 0;
			float		mean;

			for (int64 i = 0; i < r->n; i++)
				if (X[(size_t) i * d + null_at] == 0.0f)
				{
					sum += X[(size_t) i * d + j];
					cnt++;
				}
			mean = cnt > 0 ? (float) (sum / cnt) : 0.0f;
			for (int64 i = 0; i < r->n; i++)
				if (X[(size_t) i * d + null_at] != 0.0f)
					X[(size_t) i * d + j] = mean;
		}
	}
	pfree(zero);
	pfree(row);
	pfree(types);
	return X;
}

AeBundle *
AeMixedRowsTrain(const AeMixedRows *r, AeTrainOptions *opts, const char *columns,
				 int n_columns, Size columns_len, const char *what, AeTrainerReport *report)
{
	AeEncoding *enc = LearnEncoding(r, opts, what);
	float	   *X;
	int64		n = r->n;
	AeArch		arch;

	AeTrainerResolve(opts, enc->d, NULL, &arch, what);
	AeTrainerCheckMemory(AeTrainerFixedBytes(opts, &arch),
						 AeTrainerRowBytes(enc->d, ROW_BYTES(r->ncols)), n);
	X = EncodeRows(r, enc);
	if (r->reservoir == 0 && opts->max_rows > 0 && n > opts->max_rows)
		n = AeTrainerSampleRows(X, n, enc->d, opts->max_rows, (uint64) opts->seed);
	if (opts->verbose)
		ereport(NOTICE,
				(errmsg("encoded %d columns into %d inputs: %d plain, %d categorical groups",
						enc->n_columns, enc->d, enc->groups.n_plain, enc->groups.n_groups)));
	if (PlainNumeric(enc))
		return AeTrainerRun(opts, &arch, X, n, enc->d, columns, n_columns, columns_len,
							NULL, what, report, NULL, NULL);
	return AeTrainerRun(opts, &arch, X, n, enc->d, columns, n_columns, columns_len,
						NULL, what, report, &enc->groups, AeEncodingToJson(enc));
}

/* ---------------------------------------------------------------- ae_train */

AeBundle *
AeMixedTrain(AeData *data, AeTrainOptions *opts, const AeBundle *warm, const char *what,
			 AeTrainerReport *report)
{
	AeMixedRows *rows;
	AeScan	   *scan;
	Oid		   *types;
	Datum	   *values;
	bool	   *nulls;
	int			ncols = data->spec.ncols;
	int64		n_read = 0,
				n_skipped = 0;

	if (warm)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: warm_start is not supported for models with categorical, date/time or NULL columns", what),
				 errhint("Train the model anew.")));
	if (opts->data == AE_DATA_STREAM)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: data 'stream' is not supported for models with categorical, date/time or NULL columns", what),
				 errhint("Use data 'memory', with max_rows to train on a sample of a large table.")));

	types = palloc(sizeof(Oid) * ncols);
	values = palloc(sizeof(Datum) * ncols);
	nulls = palloc(sizeof(bool) * ncols);
	for (int c = 0; c < ncols; c++)
		types[c] = get_atttype(data->spec.relid, get_attnum(data->spec.relid, data->spec.colnames[c]));
	rows = AeMixedRowsCreate(ncols, data->spec.colnames, types, opts->max_rows, opts->seed);

	data->spec.raw = true;
	scan = AeScanBegin(&data->spec, true);
	while (AeScanNext(scan))
	{
		AeRowCheck	check;
		MemoryContext old = MemoryContextSwitchTo(AeScanRowContext(scan));
		bool		ok;

		n_read++;
		for (int c = 0; c < ncols; c++)
			values[c] = AeScanValue(scan, c, &nulls[c]);
		ok = AeMixedRowsAdd(rows, values, nulls, opts->nulls == AE_NULLS_LEARN, &check);
		MemoryContextSwitchTo(old);
		if (ok)
			continue;
		if (!opts->skip_invalid)
			AeReportRow(what, n_read, NULL, data->spec.colnames, &check, ncols);
		n_skipped++;
	}
	AeScanEnd(scan);
	AeReportRowCounts(what, data->spec.relname, n_read, rows->n_valid, n_skipped);
	return AeMixedRowsTrain(rows, opts, data->columns, data->n_columns, data->columns_len,
							what, report);
}
