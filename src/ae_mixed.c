/*
 * ae_mixed.c — ae_train on named columns that are not all numbers:
 * categorical, boolean and date/time columns, and NULLs learnt as a
 * missing state (ae_encoding.h says how each is encoded).
 *
 * One pass over the rows (ae_scan.c, columns read as they are) keeps each
 * row's values: numbers as double, dates and times as they are (passed by
 * value), categories interned once per distinct text with their counts.
 * Then the encoding is learnt — each categorical column's vocabulary (the
 * max_categories most frequent values, ties broken by the text's byte
 * order, so that the same rows give the same model), which columns have a
 * missing state, the weights — and every kept row is encoded by
 * AeEncodeRow, the very function scoring uses, so training and scoring
 * cannot encode a row differently.  A NULL's features take the mean of the
 * column's other rows.  The rest is an ordinary in-memory training
 * (AeTrainerRun) with the softmax groups of the categorical columns.
 *
 * With max_rows the kept rows are a seeded uniform sample (reservoir
 * sampling, as for numeric columns); the vocabulary counts every row read.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ae_encoding.h"
#include "ae_rng.h"
#include "ae_training.h"

/* ---------------------------------------------------------------- interned categories */

typedef struct Category
{
	const char *key;			/* the text */
	uint32		hash;
	char		status;
	int64		count;			/* rows holding it */
	Datum		text;			/* the same as a text value, what the kept rows point to */
} Category;

#define SH_PREFIX		vocab
#define SH_ELEMENT_TYPE	Category
#define SH_KEY_TYPE		const char *
#define SH_KEY			key
#define SH_HASH_KEY(tb, k)	hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b)	(strcmp(a, b) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a)	a->hash
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct Column
{
	const char *name;
	Oid			typid;
	AeColumnKind kind;
	vocab_hash *vocab;			/* categorical */
	int64		n_null;
} Column;

typedef struct Reader
{
	AeData	   *data;
	AeTrainOptions *opts;
	const char *what;
	int			ncols;
	Column	   *cols;
	Oid		   *types;			/* what the kept values are: float8, text, or the time type */
	Datum	   *values;			/* cap × ncols */
	bool	   *nulls;
	int64		n;				/* rows kept */
	int64		cap;
	int64		n_valid;		/* valid rows seen */
	AeRng		rng;
	MemoryContext keep_cxt;		/* where the interned categories live */
} Reader;

/* Bytes a kept row costs while reading: its values and NULL flags. */
#define RAW_ROW_BYTES(ncols) ((Size) (ncols) * (sizeof(Datum) + sizeof(bool)))

static Datum
Intern(Column *col, Datum value)
{
	char	   *text = AeCategoryText(value, col->typid);
	bool		found;
	Category   *c = vocab_insert(col->vocab, text, &found);

	if (!found)
	{
		c->key = text;
		c->count = 0;
		c->text = CStringGetTextDatum(text);
	}
	else
		pfree(text);
	c->count++;
	return c->text;
}

/* Room for one more row (the budget is the numeric path's: autoenc.max_train_memory). */
static void
Grow(Reader *r)
{
	int64		cap;

	if (r->n < r->cap)
		return;
	AeTrainerCheckMemory(0, AeTrainerRowBytes(r->ncols, RAW_ROW_BYTES(r->ncols)), r->n + 1);
	cap = Max(r->cap * 2, 1024);
	r->values = repalloc_huge(r->values, (Size) cap * r->ncols * sizeof(Datum));
	r->nulls = repalloc_huge(r->nulls, (Size) cap * r->ncols * sizeof(bool));
	r->cap = cap;
}

/*
 * Convert and keep the current row, or report it: a NaN, infinite or too
 * large number, and a NULL when nulls is 'error', make the row invalid.
 */
static bool
KeepRow(Reader *r, AeScan *scan, Datum *row, bool *rnull, AeRowCheck *check)
{
	MemoryContext old = CurrentMemoryContext;
	int64		slot;

	check->problem = AE_ROW_OK;
	for (int c = 0; c < r->ncols; c++)
	{
		Column	   *col = &r->cols[c];
		Datum		v = AeScanValue(scan, c, &rnull[c]);

		if (rnull[c])
		{
			if (r->opts->nulls == AE_NULLS_ERROR)
			{
				check->problem = AE_ROW_NULL;
				check->index = c + 1;
				return false;
			}
			row[c] = (Datum) 0;
			continue;
		}
		switch (col->kind)
		{
			case AE_COL_NUMERIC:
				{
					double		x;

					MemoryContextSwitchTo(AeScanRowContext(scan));
					x = AeNumericValue(v, col->typid);
					MemoryContextSwitchTo(old);
					if (!AeCheckValue(check, c + 1, x))
						return false;
					row[c] = Float8GetDatum(x);
				}
				break;
			case AE_COL_CATEGORICAL:
				row[c] = v;		/* interned below, once the row is known to be valid */
				break;
			default:
				(void) AeTimeValue(v, col->typid, col->name);	/* refuses infinity */
				row[c] = v;
				break;
		}
	}
	for (int c = 0; c < r->ncols; c++)
	{
		if (rnull[c])
			r->cols[c].n_null++;
		else if (r->cols[c].kind == AE_COL_CATEGORICAL)
		{
			MemoryContextSwitchTo(r->keep_cxt);
			row[c] = Intern(&r->cols[c], row[c]);
			MemoryContextSwitchTo(old);
		}
	}

	/* keep it: every row, or a seeded uniform sample of max_rows (algorithm R) */
	if (r->opts->max_rows > 0 && r->n_valid >= r->opts->max_rows)
	{
		uint64		j = ae_rng_below(&r->rng, (uint64) r->n_valid + 1);

		r->n_valid++;
		if (j >= (uint64) r->opts->max_rows)
			return true;
		slot = (int64) j;
	}
	else
	{
		Grow(r);
		r->n_valid++;
		slot = r->n++;
	}
	memcpy(r->values + (size_t) slot * r->ncols, row, sizeof(Datum) * r->ncols);
	memcpy(r->nulls + (size_t) slot * r->ncols, rnull, sizeof(bool) * r->ncols);
	return true;
}

/* ---------------------------------------------------------------- the encoding */

static int
CompareCategories(const void *a, const void *b)
{
	const Category *x = *(Category *const *) a;
	const Category *y = *(Category *const *) b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
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

static AeEncoding *
LearnEncoding(Reader *r)
{
	AeEncoding *enc = palloc0(sizeof(AeEncoding));
	Jsonb	   *weights = NULL;

	if (r->opts->column_weights)
	{
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		weights = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(r->opts->column_weights)));
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
								r->what, Min(v.val.string.len, NAMEDATALEN), v.val.string.val)));
		}
	}

	enc->n_columns = r->ncols;
	enc->cols = palloc0(sizeof(AeColumnEncoding) * r->ncols);
	for (int c = 0; c < r->ncols; c++)
	{
		Column	   *col = &r->cols[c];
		AeColumnEncoding *e = &enc->cols[c];

		e->name = pstrdup(col->name);
		e->kind = col->kind;
		e->missing = col->n_null > 0;
		e->weight = ColumnWeight(weights, col->name);
		if (col->kind == AE_COL_CATEGORICAL)
		{
			vocab_iterator it;
			Category   *cat;
			Category  **all = palloc(sizeof(Category *) * Max(col->vocab->members, 1));
			int			n = 0;

			vocab_start_iterate(col->vocab, &it);
			while ((cat = vocab_iterate(col->vocab, &it)) != NULL)
				all[n++] = cat;
			qsort(all, n, sizeof(Category *), CompareCategories);
			e->n_categories = Min(n, r->opts->max_categories);
			e->categories = palloc(sizeof(char *) * Max(e->n_categories, 1));
			for (int i = 0; i < e->n_categories; i++)
				e->categories[i] = pstrdup(all[i]->key);
			if (e->n_categories == 0 && !e->missing)
				elog(ERROR, "column \"%s\" has neither a value nor a NULL. Please report a bug.", e->name);
		}
	}
	/* the parse builds the layout and the indexes, and checks what it will store */
	return AeEncodingFromText(AeEncodingToJson(enc), ERRCODE_INTERNAL_ERROR, r->what);
}

/*
 * Every kept row into X (n × d, original units): first with zero means to
 * learn each plain input's mean over the rows where its column is not NULL,
 * then for good with those means in the NULLs' place (so that the training
 * mean AeTrainerRun stores for them is that same mean).
 */
static float *
EncodeRows(Reader *r, const AeEncoding *enc)
{
	int			d = enc->d;
	int			P = enc->groups.n_plain;
	float	   *X = palloc_extended((Size) Max(r->n, 1) * d * sizeof(float), MCXT_ALLOC_HUGE);
	double	   *sum = palloc0(sizeof(double) * d);
	int64	   *cnt = palloc0(sizeof(int64) * d);
	float	   *mean = palloc0(sizeof(float) * d);
	AeRowCheck	check;
	int			unknown = 0;

	for (int pass = 0; pass < 2; pass++)
	{
		for (int64 i = 0; i < r->n; i++)
		{
			const Datum *v = r->values + (size_t) i * r->ncols;
			const bool *nl = r->nulls + (size_t) i * r->ncols;
			float	   *x = X + (size_t) i * d;

			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			AeEncodeRow(enc, v, nl, r->types, mean, x, &unknown, &check);
			if (pass == 1)
				continue;
			for (int c = 0; c < enc->n_columns; c++)
			{
				const AeColumnEncoding *col = &enc->cols[c];
				int			n_feat = col->width - (col->missing ? 1 : 0);

				if (col->kind == AE_COL_CATEGORICAL || nl[c])
					continue;
				for (int k = 0; k < n_feat; k++)
				{
					sum[col->first + k] += x[col->first + k];
					cnt[col->first + k]++;
				}
			}
		}
		for (int j = 0; pass == 0 && j < P; j++)
			mean[j] = cnt[j] > 0 ? (float) (sum[j] / cnt[j]) : 0.0f;
	}
	pfree(sum);
	pfree(cnt);
	pfree(mean);
	return X;
}

/* ---------------------------------------------------------------- training */

AeBundle *
AeMixedTrain(AeData *data, AeTrainOptions *opts, const AeBundle *warm, const char *what,
			 AeTrainerReport *report)
{
	Reader		r;
	AeScan	   *scan;
	AeEncoding *enc;
	Datum	   *row;
	bool	   *rnull;
	float	   *X;
	AeArch		arch;
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

	memset(&r, 0, sizeof(r));
	r.data = data;
	r.opts = opts;
	r.what = what;
	r.ncols = data->spec.ncols;
	r.cols = palloc0(sizeof(Column) * r.ncols);
	r.types = palloc(sizeof(Oid) * r.ncols);
	r.values = palloc(sizeof(Datum));
	r.nulls = palloc(sizeof(bool));
	ae_rng_seed(&r.rng, (uint64) opts->seed ^ UINT64CONST(0x9E3779B97F4A7C15));
	r.keep_cxt = CurrentMemoryContext;
	for (int c = 0; c < r.ncols; c++)
	{
		Column	   *col = &r.cols[c];

		col->name = data->spec.colnames[c];
		col->typid = get_atttype(data->spec.relid, get_attnum(data->spec.relid, col->name));
		if (!AeColumnKindOf(col->typid, &col->kind))
			elog(ERROR, "column \"%s\" has no encoding. Please report a bug.", col->name);
		if (col->kind == AE_COL_CATEGORICAL)
			col->vocab = vocab_create(CurrentMemoryContext, 64, NULL);
		r.types[c] = col->kind == AE_COL_NUMERIC ? FLOAT8OID :
			col->kind == AE_COL_CATEGORICAL ? TEXTOID : col->typid;
	}

	row = palloc(sizeof(Datum) * r.ncols);
	rnull = palloc(sizeof(bool) * r.ncols);
	data->spec.raw = true;
	scan = AeScanBegin(&data->spec, true);
	while (AeScanNext(scan))
	{
		AeRowCheck	check;

		n_read++;
		if (KeepRow(&r, scan, row, rnull, &check))
			continue;
		if (!opts->skip_invalid)
			AeReportRow(what, n_read, NULL, data->spec.colnames, &check, r.ncols);
		n_skipped++;
	}
	AeScanEnd(scan);
	AeReportRowCounts(what, data->spec.relname, n_read, r.n_valid, n_skipped);

	enc = LearnEncoding(&r);
	X = EncodeRows(&r, enc);
	pfree(r.values);
	pfree(r.nulls);
	AeTrainerResolve(opts, enc->d, NULL, &arch, what);
	AeTrainerCheckMemory(AeTrainerFixedBytes(opts, &arch), AeTrainerRowBytes(enc->d, 0), r.n);
	if (opts->verbose)
		ereport(NOTICE,
				(errmsg("encoded %d columns into %d inputs: %d plain, %d categorical groups",
						enc->n_columns, enc->d, enc->groups.n_plain, enc->groups.n_groups)));
	return AeTrainerRun(opts, &arch, X, r.n, enc->d, data->columns, data->n_columns,
						data->columns_len, NULL, what, report, &enc->groups,
						AeEncodingToJson(enc));
}
