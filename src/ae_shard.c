/*
 * ae_shard.c — the shard side of a sharded training (doc/scaling.md).
 *
 * A shard reads its rows once (ae_shard_open), keeps them in a memory
 * context of its own and answers one call per optimiser step with the
 * gradient sums of its rows of that step's batch.  Which rows those are
 * depends only on each row's key, the seed and the epoch, so the global
 * batches do not depend on where the rows live.
 */
#include "postgres.h"

#include <float.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ae_compat.h"
#include "ae_encoding.h"
#include "ae_norm.h"
#include "ae_train.h"
#include "ae_training.h"
#include "ae_shard.h"
#include "autoenc.h"

struct AeShard
{
	MemoryContext cxt;
	char	   *session;		/* registry name; NULL for a coordinator's local shard */
	int			d;				/* inputs; an array input's is its first row's length */
	bool		array;			/* the rows are one array column's arrays */
	int64		n;
	int64		cap;			/* rows X and h0 have room for while reading */
	float	   *X;				/* n × d: original units, normalised in place later */
	uint64	   *h0;				/* key hash of each row */
	int64		n_train;
	int64		n_val;
	int32	   *train;			/* the training rows' indices, in read order */
	int32	   *val;			/* the validation rows' indices */
	/* the training rows bucketed by batch for one epoch */
	int			epoch;
	int			n_batches;
	int64	   *bucket;			/* n_batches + 1 starts into order */
	int32	   *order;
	int			max_bucket;
	/* the network at the last snapshot */
	AeArch		arch;
	AeObjective obj;
	AeModel		model;
	float	   *params;
	size_t		n_params;
	bool		has_norm;		/* the snapshot brought a normalisation (after params) */
	bool		unit_checked;	/* X checked and clamped to [0, 1] for loss "bce" */
	AeWorkspace *ws;
	int			ws_batch;
	float		ws_contractive;	/* the contractive weight ws was made for */
	float	   *xbuf;
	float	   *xin;			/* the corrupted batch (denoising), or NULL */
	float	   *grad;
	float	   *scratch;
	float	   *Xtrain;			/* the training rows end to end (approximate mode) */
	/*
	 * The batch whose code sums this shard answered last (the first call of
	 * a step with the sparsity penalty): its rows stay in xbuf (and xin) for
	 * the second call, which brings the batch's code mean.  Any snapshot
	 * loaded since clears code_id.
	 */
	uint64		code_id;
	int			code_epoch;
	int			code_batch;
	int			code_rows;
	/*
	 * max_rows: a sample of the rows whose sample hash is smallest.  While
	 * reading the shard holds at most max_rows + 1 of them, heap a max-heap
	 * of their slots by that hash (slot max_rows + 1 takes each new row),
	 * so that counting its rows up to a threshold is exact below its
	 * largest hash and more than max_rows above it: the coordinator finds
	 * the threshold of the whole table's sample from the shards' counts.
	 */
	int64		max_rows;		/* 0: every row */
	int32	   *heap;
	int64		dropped;		/* rows read and not held */
	double		validation_fraction;
	const char *relname;		/* quoted and qualified, for messages */
	Size		others;			/* bytes of rows the process's other shards hold */
	Size		held;			/* bytes of this shard's rows */
};

/*
 * what a row costs a shard: its inputs, its key hash, its index in
 * train/val and order, and in the heap of a sample
 */
static Size
ShardRowBytes(const AeShard *s)
{
	return sizeof(float) * (Size) s->d + sizeof(uint64) + (s->max_rows > 0 ? 3 : 2) * sizeof(int32);
}

/* ------------------------------------------------------------- hashing */

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64
Mix64(uint64 x)
{
	x ^= x >> 30;
	x *= UINT64CONST(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64CONST(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

#define SALT_VALIDATION UINT64CONST(0x76616c6964617465)	/* "validate" */
#define SALT_NOISE		UINT64CONST(0x6e6f697365212121)	/* "noise!!!" */
#define SALT_SAMPLE		UINT64CONST(0x73616d706c652121)	/* "sample!!" */

/*
 * The seed of a row's denoising corruption in an epoch: its key's hash, so
 * the noise a row gets does not depend on which shard holds it or what else
 * is in its batch (ae_train draws one stream over its batches instead).
 */
static uint64
NoiseSeed(uint64 h0, int epoch)
{
	return Mix64(h0 ^ Mix64(SALT_NOISE + (uint64) epoch));
}

uint64
AeShardKeyHash(const char *key, Size len, int64 seed)
{
	/* FNV-1a over the key's text form, then seeded */
	uint64		h = UINT64CONST(0xcbf29ce484222325);

	for (Size i = 0; i < len; i++)
	{
		h ^= (unsigned char) key[i];
		h *= UINT64CONST(0x100000001b3);
	}
	return Mix64(h ^ Mix64((uint64) seed));
}

bool
AeShardIsValidation(uint64 h0, double validation_fraction)
{
	double		u = (double) (Mix64(h0 ^ SALT_VALIDATION) >> 11) * (1.0 / 9007199254740992.0);

	return u < validation_fraction;
}

int
AeShardBatchOf(uint64 h0, int epoch, int n_batches)
{
	return (int) (Mix64(h0 ^ Mix64((uint64) epoch)) % (uint64) n_batches);
}

int64
AeShardSampleHash(uint64 h0)
{
	return (int64) (Mix64(h0 ^ SALT_SAMPLE) >> 1);
}

/* ------------------------------------------------------------- reading */

/*
 * The columns exist and are numbers, checked here by name and type before
 * any SQL is built, so that every engine gets the same clear error (a text
 * column would otherwise fail deep in a cast, without its name).
 */
bool
AeShardCheckColumns(Oid relid, char **columns, int ncols, const char *key, bool *float4)
{
	const char *relname = get_rel_name(relid);
	bool		array = false;

	for (int j = 0; j <= ncols; j++)
	{
		const char *name = j < ncols ? columns[j] : key;
		AttrNumber	attnum;
		AeColumnKind kind;
		Oid			typid;

		if (name == NULL)
			continue;
		attnum = get_attnum(relid, name);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist", name, relname)));
		if (j == ncols)
			break;				/* a key of any type: its text is hashed */
		typid = get_atttype(relid, attnum);
		if (ncols == 1 && OidIsValid(get_element_type(getBaseType(typid))))
		{
			/* an input array, as ae_train's input column: of numbers */
			Oid			elem = getBaseType(get_element_type(getBaseType(typid)));

			array = AeColumnKindOf(elem, &kind) && kind == AE_COL_NUMERIC;
			*float4 = elem == FLOAT4OID;
			if (array)
				continue;
		}
		if (!AeColumnKindOf(typid, &kind) || kind != AE_COL_NUMERIC)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of relation \"%s\" has type %s", name, relname,
							format_type_be(typid)),
					 errdetail("Training across shards takes numeric columns (real, double precision, numeric, smallint, integer, bigint), or one array column of them."),
					 errhint("Train a model with categorical or date/time columns on one server with ae_train.")));
	}
	return array;
}

/*
 * One row's inputs into s->X: an array (the first row with one sets the
 * width, which the later ones must have) or the scalar columns.  Raises
 * naming the row and the column or element.
 */
/* a training across shards reads every row: skip_invalid is not among its options */
#define ROW_HINT "Filter such rows out of the relation, or train on one server with ae_train and skip_invalid."

static void
TakeRow(AeShard *s, int64 slot, int64 rowno, const Datum *values, const bool *nulls,
		char **columns, int ncols, bool float4, const char *relname, const char *what)
{
	if (s->array)
	{
		AeRowCheck	c = {0};
		ArrayType  *arr;
		int			width = 0;

		if (nulls[1])
		{
			c.problem = AE_ROW_NULL;
			AeReportRowHint(what, rowno, columns[0], NULL, &c, s->d, ROW_HINT);
		}
		arr = DatumGetArrayTypeP(values[1]);
		if (s->X == NULL)
		{
			/* the first row: its width sizes the rows */
			AeConvertArray(arr, float4, 0, NULL, &width, &c, what);
			if (c.problem != AE_ROW_OK)
				AeReportRowHint(what, rowno, columns[0], NULL, &c, 0, ROW_HINT);
			s->d = width;
			s->X = MemoryContextAllocHuge(s->cxt, sizeof(float) * s->cap * s->d);
		}
		AeConvertArray(arr, float4, s->d, s->X + (size_t) slot * s->d, &width, &c, what);
		if (c.problem != AE_ROW_OK)
			AeReportRowHint(what, rowno, columns[0], NULL, &c, s->d, ROW_HINT);
		return;
	}
	for (int j = 0; j < ncols; j++)
	{
		bool		isnull = nulls[j + 1];
		double		x = isnull ? 0 : DatumGetFloat8(values[j + 1]);

		if (isnull || isnan(x) || isinf(x) || fabs(x) > FLT_MAX)
			ereport(ERROR,
					(errcode(isnull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_DATA_EXCEPTION),
					 errmsg("column \"%s\" is %s in row " INT64_FORMAT " of %s", columns[j],
							isnull ? "NULL" : "not a finite real", rowno, relname)));
		s->X[(size_t) slot * ncols + j] = (float) x;
	}
}

/* The error of rows (bytes of them in all) beyond autoenc.max_train_memory. */
pg_noreturn static void
TooManyRows(const AeShard *s, double bytes)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("the rows of %s need more memory than autoenc.max_train_memory allows on this server",
					s->relname),
			 errdetail("With " INT64_FORMAT " rows of %d inputs read, they need about %.0f kB; autoenc.max_train_memory is %d kB.",
					   s->n, s->d, ceil(bytes / 1024.0), ae_max_train_memory_kb),
			 errhint("Raise autoenc.max_train_memory on this server, or spread the rows over more partitions.")));
}

/*
 * Room for twice the rows, or as many as autoenc.max_train_memory leaves
 * beside the other open shards of this process (and the buffers being
 * grown); raises when not even one more row fits.
 */
static int64
GrowRows(AeShard *s)
{
	Size		per_row = ShardRowBytes(s);
	Size		old_bytes = (Size) s->cap * (sizeof(float) * s->d + sizeof(uint64));
	int64		need = s->n + 1;
	int64		fits = AeTrainerMaxRows(s->others + old_bytes, per_row);

	if (fits < need)
		TooManyRows(s, (double) s->others + (double) old_bytes + (double) need * per_row);
	return Min(Min(Min(s->cap * 2, (int64) PG_INT32_MAX / 2), fits),
			   s->max_rows > 0 ? s->max_rows + 2 : PG_INT64_MAX);
}

/* ------------------------------------------------------------- max_rows */

static inline int64
SlotHash(const AeShard *s, int32 slot)
{
	return AeShardSampleHash(s->h0[slot]);
}

static void
MoveRow(AeShard *s, int64 to, int64 from)
{
	memmove(s->X + (size_t) to * s->d, s->X + (size_t) from * s->d, sizeof(float) * s->d);
	s->h0[to] = s->h0[from];
}

/* Restore the heap property below position at (a max-heap by sample hash). */
static void
SiftDown(AeShard *s, int64 at)
{
	int64		n = s->n;

	for (;;)
	{
		int64		l = 2 * at + 1,
					big = at;

		if (l < n && SlotHash(s, s->heap[l]) > SlotHash(s, s->heap[big]))
			big = l;
		if (l + 1 < n && SlotHash(s, s->heap[l + 1]) > SlotHash(s, s->heap[big]))
			big = l + 1;
		if (big == at)
			return;
		{
			int32		t = s->heap[at];

			s->heap[at] = s->heap[big];
			s->heap[big] = t;
		}
		at = big;
	}
}

/*
 * The row just read into slot n: held, or with max_rows and max_rows + 1
 * held, in place of the held row of the largest sample hash when its own
 * is smaller, else dropped.
 */
static void
HoldRow(AeShard *s)
{
	int64		at;

	if (s->max_rows == 0)
	{
		s->n++;
		return;
	}
	if (s->n <= s->max_rows)
	{
		/* not full: push */
		at = s->n++;
		s->heap[at] = (int32) at;
		while (at > 0 && SlotHash(s, s->heap[(at - 1) / 2]) < SlotHash(s, s->heap[at]))
		{
			int32		t = s->heap[at];

			s->heap[at] = s->heap[(at - 1) / 2];
			s->heap[(at - 1) / 2] = t;
			at = (at - 1) / 2;
		}
		return;
	}
	s->dropped++;
	if (SlotHash(s, (int32) s->n) < SlotHash(s, s->heap[0]))
	{
		MoveRow(s, s->heap[0], s->n);
		SiftDown(s, 0);
	}
}

/* The training and validation rows, in slot order. */
static void
SplitRows(AeShard *s)
{
	s->n_train = s->n_val = 0;
	for (int64 i = 0; i < s->n; i++)
	{
		if (AeShardIsValidation(s->h0[i], s->validation_fraction))
			s->val[s->n_val++] = (int32) i;
		else
			s->train[s->n_train++] = (int32) i;
	}
}

int64
AeShardCountBelow(const AeShard *s, int64 threshold)
{
	int64		count = 0;

	for (int64 i = 0; i < s->n; i++)
		count += AeShardSampleHash(s->h0[i]) <= threshold;
	return count;
}

bytea *
AeShardKeepBelow(AeShard *s, int64 threshold)
{
	int64		m = 0;

	for (int64 i = 0; i < s->n; i++)
		if (AeShardSampleHash(s->h0[i]) <= threshold)
			MoveRow(s, m++, i);
	s->dropped += s->n - m;
	s->n = m;
	SplitRows(s);
	s->epoch = 0;				/* the batches' buckets are of other rows */
	s->code_id = 0;
	return AeShardStats(s);
}

static void
ReadRows(AeShard *s, Oid relid, char **columns, int ncols, const char *key, int64 seed,
		 double validation_fraction)
{
	StringInfoData sql;
	Portal		portal;
	int			ret;
	const char *relname;
	Datum	   *values;
	bool	   *nulls;
	bool		float4 = false;
	const char *what;

	/* an OID given by a caller (ae_shard_open takes a regclass): it may name nothing */
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										 get_rel_name(relid));
	s->relname = MemoryContextStrdup(s->cxt, relname);
	s->array = AeShardCheckColumns(relid, columns, ncols, key, &float4);
	what = psprintf("cannot read the rows of %s", relname);
	initStringInfo(&sql);
	/* without a key column a row's key is its values (see below) */
	if (key)
		appendStringInfo(&sql, "SELECT (%s)::pg_catalog.text", quote_identifier(key));
	else
		appendStringInfoString(&sql, "SELECT NULL::pg_catalog.text");
	if (s->array)
		appendStringInfo(&sql, ", (%s)::pg_catalog.%s", quote_identifier(columns[0]),
						 float4 ? "float4[]" : "float8[]");
	else
		for (int j = 0; j < ncols; j++)
			appendStringInfo(&sql, ", (%s)::pg_catalog.float8", quote_identifier(columns[j]));
	appendStringInfo(&sql, " FROM %s", relname);

	/* an array input's rows are sized by the first row (TakeRow) */
	s->cap = 64;
	s->d = s->array ? 0 : ncols;
	if (!s->array)
		s->X = MemoryContextAllocHuge(s->cxt, sizeof(float) * s->cap * ncols);
	s->h0 = MemoryContextAllocHuge(s->cxt, sizeof(uint64) * s->cap);
	if (s->max_rows > 0)
		s->heap = MemoryContextAllocHuge(s->cxt, sizeof(int32) * s->cap);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, 0);
	/*
	 * Each tuple is taken apart once: the key's text comes first, so no
	 * column after it has a cached offset, and reading the columns one by
	 * one would walk the tuple from its start for each (quadratic in the
	 * width: most of the time of opening a 784-column shard).
	 */
	values = palloc(sizeof(Datum) * (ncols + 1));
	nulls = palloc(sizeof(bool) * (ncols + 1));
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 4096);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
			if (nulls[0] && key)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("key column \"%s\" is NULL in row " INT64_FORMAT " of %s",
								key, s->n + s->dropped + 1, relname),
						 errhint("A sharded training needs a key in every row.")));
			if (s->n == s->cap)
			{
				if (s->cap >= PG_INT32_MAX / 2)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("a shard holds at most %d rows", PG_INT32_MAX / 2)));
				s->cap = GrowRows(s);
				s->X = repalloc_huge(s->X, sizeof(float) * s->cap * s->d);
				s->h0 = repalloc_huge(s->h0, sizeof(uint64) * s->cap);
				if (s->heap)
					s->heap = repalloc_huge(s->heap, sizeof(int32) * s->cap);
			}
			/* the new row goes to slot n; HoldRow keeps it there, moves it or drops it */
			TakeRow(s, s->n, s->n + s->dropped + 1, values, nulls, columns, ncols, float4, relname, what);
			if (key)
			{
				text	   *kt = DatumGetTextPP(values[0]);

				s->h0[s->n] = AeShardKeyHash(VARDATA_ANY(kt), VARSIZE_ANY_EXHDR(kt), seed);
			}
			else
			{
				/*
				 * The row's own values (their float bits) are its key: no
				 * less independent of where the row lives, but equal rows
				 * always share a batch.
				 */
				s->h0[s->n] = AeShardKeyHash((const char *) (s->X + (size_t) s->n * s->d),
											 sizeof(float) * s->d, seed);
			}
			HoldRow(s);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();

	s->train = MemoryContextAllocHuge(s->cxt, sizeof(int32) * Max(s->n, 1));
	s->val = MemoryContextAllocHuge(s->cxt, sizeof(int32) * Max(s->n, 1));
	SplitRows(s);
	s->held = (Size) s->cap * ShardRowBytes(s);
}

AeShard *
AeShardOpen(MemoryContext parent, Oid relid, char **columns, int ncols, const char *key,
			int64 seed, double validation_fraction, int64 max_rows, Size others)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "autoenc shard", ALLOCSET_DEFAULT_SIZES);
	AeShard    *s = MemoryContextAllocZero(cxt, sizeof(AeShard));

	if (ncols < 1 || ncols > AE_MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a shard needs between 1 and %d columns, got %d", AE_MAX_WIDTH, ncols)));
	if (!(validation_fraction >= 0 && validation_fraction < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("validation_fraction must be in [0, 1), got %g", validation_fraction)));
	if (max_rows < 0 || max_rows >= PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows of a shard must be between 0 and %d, got " INT64_FORMAT,
						PG_INT32_MAX / 2 - 1, max_rows)));
	s->cxt = cxt;
	s->max_rows = max_rows;
	s->validation_fraction = validation_fraction;
	s->d = ncols;
	s->others = others;
	PG_TRY();
	{
		ReadRows(s, relid, columns, ncols, key, seed, validation_fraction);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return s;
}

Size
AeShardBytes(const AeShard *shard)
{
	return shard->held;
}

void
AeShardFree(AeShard *shard)
{
	MemoryContextDelete(shard->cxt);
}

/* trainings and shard sessions of this process that asked for AeShardRetainHeap */
static int	heap_retainers = 0;

/*
 * Every step allocates and frees megabytes: the snapshot and the partial
 * in both processes, and on a shard PostgreSQL's own input message, the
 * bytea argument's copy and the output row.  glibc hands a request that
 * large a fresh mmap, or trims the heap's top once it is freed, so every
 * step faulted those megabytes back in, zeroed page by page: a fifth of
 * the time of a 784-256-64-256-784 step over two shards (bench/shard_bench.sh).
 * While a training or a shard session lives in this process, freed memory
 * stays in the heap; when the last one ends it goes back to the system,
 * and the thresholds return to glibc's defaults.
 */
void
AeShardRetainHeap(bool retain)
{
#ifdef __GLIBC__
	if (retain && heap_retainers++ == 0)
	{
		/* 32 MB is the largest mmap threshold glibc takes on 64-bit */
		(void) mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
		(void) mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	}
	else if (!retain && heap_retainers > 0 && --heap_retainers == 0)
	{
		(void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
		(void) mallopt(M_TRIM_THRESHOLD, 128 * 1024);
		(void) malloc_trim(0);
	}
#endif
}

/* ------------------------------------------------------------- states */

/* A bytea the size of a state with these counts, its contents to be written. */
static bytea *
AllocState(uint32 n_ints, uint32 n_doubles, uint32 n_floats)
{
	size_t		len = ae_grad_state_size(n_ints, n_doubles, n_floats);
	bytea	   *b;

	if (len == 0 || len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial state too large")));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	return b;
}

bytea *
AeShardMakeState(AeGradStateKind kind, uint64 snapshot, int epoch, int batch, int64 rows,
		  const int32 *ints, uint32 n_ints, const double *doubles, uint32 n_doubles,
		  const float *floats, uint32 n_floats)
{
	bytea	   *b = AllocState(n_ints, n_doubles, n_floats);

	ae_grad_state_write((unsigned char *) VARDATA(b), kind, snapshot, epoch, batch, rows,
						ints, n_ints, doubles, n_doubles, floats, n_floats);
	return b;
}

void
AeShardParseState(const bytea *b, AeGradStateKind kind, AeGradState *gs, const char *what)
{
	AeShardParseBytes(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), kind, gs, what);
}

/* Parse len bytes at buf; raise unless the state is of kind or of other. */
static void
ParseKinds(const char *buf, size_t len, AeGradStateKind kind, AeGradStateKind other,
		   AeGradState *gs, const char *what)
{
	char		errbuf[AE_ERRBUF_SIZE] = "";

	if (ae_grad_state_parse((const unsigned char *) buf, len, gs, errbuf) != AE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: invalid partial state", what),
				 errdetail("%s.", errbuf)));
	if (gs->kind != kind && gs->kind != other)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: partial state of kind %d where kind %d was expected",
						what, (int) gs->kind, (int) kind)));
}

void
AeShardParseBytes(const char *buf, size_t len, AeGradStateKind kind, AeGradState *gs,
				  const char *what)
{
	ParseKinds(buf, len, kind, kind, gs, what);
}

bytea *
AeShardStats(AeShard *s)
{
	/* an array input's width is that of rows held: none once a sample drops them all */
	int			d = s->array && s->n == 0 ? 0 : s->d;
	double	   *out = palloc(sizeof(double) * (3 + 4 * (size_t) d));
	int32		ints[2] = {d, s->array ? AE_SHARD_INPUT_ARRAY : AE_SHARD_INPUT_COLUMNS};

	out[0] = (double) s->n;
	out[1] = (double) s->n_train;
	out[2] = (double) s->n_val;
	for (int j = 0; j < d; j++)
	{
		double		mean = 0,
					m2 = 0,
					lo = s->n > 0 ? s->X[j] : 0,
					hi = lo;

		/* two passes, like ae_norm_fit: Σ(x − mean)² does not cancel */
		for (int64 i = 0; i < s->n; i++)
		{
			double		x = s->X[(size_t) i * d + j];

			mean += x;
			lo = fmin(lo, x);
			hi = fmax(hi, x);
		}
		mean = s->n > 0 ? mean / (double) s->n : 0;
		for (int64 i = 0; i < s->n; i++)
		{
			double		dx = s->X[(size_t) i * d + j] - mean;

			m2 += dx * dx;
		}
		out[3 + j] = mean;
		out[3 + d + j] = m2;
		out[3 + 2 * d + j] = lo;
		out[3 + 3 * d + j] = hi;
	}
	return AeShardMakeState(AE_GS_STATS, 0, 0, 0, s->n, ints, 2, out, 3 + 4 * d, NULL, 0);
}

void
AeShardNormalize(AeShard *s, const float *offset, const float *scale, int d)
{
	/* a shard without rows of an array input learns the width here */
	if (s->array && s->n == 0 && d >= 1 && d <= AE_MAX_WIDTH)
		s->d = d;
	if (d != s->d)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("normalisation of %d columns for a shard of %d", d, s->d)));
	for (int j = 0; j < d; j++)
		if (!isfinite(offset[j]) || !isfinite(scale[j]) || scale[j] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("normalisation of column %d is not finite and non-zero", j + 1)));
	ae_norm_apply(offset, scale, s->X, (size_t) s->n, d);
	s->code_id = 0;				/* a batch summed before is another batch now */
}

/* ------------------------------------------------------------- steps */

uint32
AeShardObjectiveDoubles(const AeObjective *obj, double *out)
{
	out[0] = obj->l1_activity;
	if (obj->noise == AE_NOISE_NONE && obj->contractive == 0 && obj->sparsity_weight == 0)
		return 1;
	out[1] = (double) obj->noise;
	out[2] = obj->noise != AE_NOISE_NONE ? obj->noise_level : 0;
	out[3] = obj->contractive;
	out[4] = obj->sparsity_weight;
	out[5] = obj->sparsity_target;
	return AE_SNAPSHOT_DOUBLES;
}

void
AeShardSnapshotObjective(const AeGradState *gs, AeLoss loss, AeObjective *obj, const char *what)
{
	ae_objective_defaults(obj);
	obj->loss = loss;
	if (gs->n_doubles != 1 && gs->n_doubles != AE_SNAPSHOT_DOUBLES)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the snapshot's objective is malformed", what)));
	obj->l1_activity = (float) ae_grad_state_double(gs, 0);
	if (!(obj->l1_activity >= 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: negative l1_activity in the snapshot", what)));
	if (gs->n_doubles == AE_SNAPSHOT_DOUBLES)
	{
		/* denoising's kind (AeNoise) and level, the contractive weight: as the core checks options */
		double		kind = ae_grad_state_double(gs, 1);
		double		level = ae_grad_state_double(gs, 2);
		double		contractive = ae_grad_state_double(gs, 3);
		double		beta = ae_grad_state_double(gs, 4);
		double		rho = ae_grad_state_double(gs, 5);

		if (!(kind == AE_NOISE_NONE ? level == 0
			  : (kind == AE_NOISE_GAUSSIAN || kind == AE_NOISE_MASK) && level > 0 && level < 1))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: the snapshot's denoising (%g, %g) is not valid", what, kind, level)));
		if (!(contractive >= 0 && contractive <= FLT_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: the snapshot's contractive weight %g is not valid", what, contractive)));
		if (!(beta >= 0 && beta <= FLT_MAX && rho > 0 && rho < 1))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: the snapshot's sparsity penalty (%g, target %g) is not valid",
							what, beta, rho)));
		obj->noise = (AeNoise) kind;
		obj->noise_level = (float) level;
		obj->contractive = (float) contractive;
		obj->sparsity_weight = (float) beta;
		obj->sparsity_target = (float) rho;
	}
}

/* Bind the network to a parsed weights snapshot; returns its identity. */
static uint64
LoadWeights(AeShard *s, const AeGradState *snapshot)
{
	AeGradState gs = *snapshot;
	AeArch		arch;
	AeLoss		loss;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	MemoryContext old;

	s->code_id = 0;
	if (ae_grad_state_arch(&gs, &arch, &loss, errbuf) != AE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot run a shard step: invalid weights snapshot"),
				 errdetail("%s.", errbuf)));
	if (arch.n_inputs != s->d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot run a shard step: the snapshot has %d inputs, the shard %d columns",
						arch.n_inputs, s->d)));
	/* the parameters, perhaps followed by a normalisation (ae_grad_snapshot's), which a shard has already */
	if (gs.n_floats != ae_arch_param_count(&arch) &&
		gs.n_floats != ae_arch_param_count(&arch) + 2 * (size_t) arch.n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot run a shard step: the snapshot's parameters do not fit its architecture")));

	old = MemoryContextSwitchTo(s->cxt);
	if (s->params == NULL || memcmp(&arch, &s->arch, sizeof(arch)) != 0)
	{
		/* a new network: everything sized by it goes */
		if (s->ws)
			ae_workspace_destroy(s->ws, &ae_palloc_allocator);
		s->ws = NULL;
		s->ws_batch = 0;
		if (s->params)
			pfree(s->params);
		if (s->grad)
			pfree(s->grad);
		s->n_params = ae_arch_param_count(&arch);
		/* room for a normalisation after the parameters, which the copy below may bring */
		s->params = palloc_extended(sizeof(float) * (s->n_params + 2 * (size_t) arch.n_inputs),
									MCXT_ALLOC_HUGE);
		s->grad = palloc_extended(sizeof(float) * Max(s->n_params, 1), MCXT_ALLOC_HUGE);
		s->arch = arch;
		ae_check_status(ae_model_bind(&s->model, &arch, s->params, errbuf), errbuf,
						"cannot run a shard step");
	}
	AeShardSnapshotObjective(&gs, loss, &s->obj, "cannot run a shard step");
	if (ae_objective_validate(&s->obj, &s->model, errbuf) != AE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot run a shard step: the snapshot's objective is not valid"),
				 errdetail("%s.", errbuf)));
	ae_grad_state_floats(&gs, s->params);
	s->has_norm = gs.n_floats > s->n_params;
	MemoryContextSwitchTo(old);
	if (loss == AE_LOSS_BCE && !s->unit_checked)
	{
		/* binary cross-entropy's targets, checked and clamped as ae_train does */
		size_t		bad = ae_norm_clamp_unit(s->X, (size_t) s->n * s->d);

		if (bad < (size_t) s->n * s->d)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("loss \"bce\" needs inputs in [0, 1], but input %d of row " INT64_FORMAT " of %s is %g after normalisation",
							(int) (bad % s->d) + 1, (int64) (bad / s->d) + 1, s->relname,
							(double) s->X[bad]),
					 errhint("Use \"normalize\" => 'minmax'.")));
		s->unit_checked = true;
	}
	return gs.snapshot;
}

static uint64
LoadSnapshot(AeShard *s, const bytea *snapshot)
{
	AeGradState gs;

	AeShardParseState(snapshot, AE_GS_WEIGHTS, &gs, "cannot run a shard step");
	return LoadWeights(s, &gs);
}

/* A workspace and buffers for batches of up to rows rows. */
static void
EnsureBatch(AeShard *s, int rows)
{
	MemoryContext old;

	rows = Max(rows, 1);
	/* a workspace is made for one contractive setting, the noise needs a buffer */
	if (s->ws && s->ws_batch >= rows && s->ws_contractive == s->obj.contractive &&
		(s->xin != NULL) == (s->obj.noise != AE_NOISE_NONE))
		return;
	{
		/* the network beside the rows, within autoenc.max_train_memory of this server */
		double		need = (double) s->others + (double) s->held +
			AeTrainerNetworkBytes(&s->arch, rows, s->obj.contractive > 0, 2);

		if (need > (double) AeTrainerBudgetBytes())
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("the network and the rows of %s need more memory than autoenc.max_train_memory allows on this server",
							s->relname),
					 errdetail("They need about %.0f kB; autoenc.max_train_memory is %d kB.",
							   ceil(need / 1024.0), ae_max_train_memory_kb),
					 errhint("Raise autoenc.max_train_memory on this server, or spread the rows over more partitions.")));
	}
	old = MemoryContextSwitchTo(s->cxt);
	if (s->ws)
		ae_workspace_destroy(s->ws, &ae_palloc_allocator);
	if (s->xbuf)
		pfree(s->xbuf);
	if (s->scratch)
		pfree(s->scratch);
	if (s->xin)
		pfree(s->xin);
	s->ws = ae_workspace_create(&s->model, &s->obj, rows, &ae_palloc_allocator);
	s->ws_contractive = s->obj.contractive;
	s->xbuf = palloc_extended(sizeof(float) * (size_t) rows * s->d, MCXT_ALLOC_HUGE);
	s->xin = s->obj.noise != AE_NOISE_NONE
		? palloc_extended(sizeof(float) * (size_t) rows * s->d, MCXT_ALLOC_HUGE) : NULL;
	s->scratch = palloc_extended(sizeof(float) * ae_forward_scratch_size(&s->model, rows),
								 MCXT_ALLOC_HUGE);
	s->ws_batch = rows;
	MemoryContextSwitchTo(old);
}

/* The training rows sorted by their batch of this epoch (a counting sort). */
static void
Bucket(AeShard *s, int epoch, int n_batches)
{
	int64	   *count;

	if (s->epoch == epoch && s->n_batches == n_batches)
		return;
	if (s->bucket)
		pfree(s->bucket);
	if (s->order)
		pfree(s->order);
	s->bucket = MemoryContextAllocZero(s->cxt, sizeof(int64) * ((size_t) n_batches + 1));
	s->order = MemoryContextAllocHuge(s->cxt, sizeof(int32) * Max(s->n_train, 1));
	count = palloc0(sizeof(int64) * ((size_t) n_batches + 1));
	for (int64 i = 0; i < s->n_train; i++)
		count[AeShardBatchOf(s->h0[s->train[i]], epoch, n_batches) + 1]++;
	s->max_bucket = 0;
	for (int b = 0; b < n_batches; b++)
	{
		s->max_bucket = Max(s->max_bucket, (int) count[b + 1]);
		count[b + 1] += count[b];
	}
	memcpy(s->bucket, count, sizeof(int64) * ((size_t) n_batches + 1));
	for (int64 i = 0; i < s->n_train; i++)
	{
		int32		r = s->train[i];

		s->order[count[AeShardBatchOf(s->h0[r], epoch, n_batches)]++] = r;
	}
	pfree(count);
	s->epoch = epoch;
	s->n_batches = n_batches;
}

/*
 * The shard's rows of one batch into xbuf (corrupted into xin for
 * denoising); returns how many.
 */
static int
GatherBatch(AeShard *s, int epoch, int batch, int n_batches)
{
	int64		lo,
				hi;
	int			B;

	Bucket(s, epoch, n_batches);
	lo = s->bucket[batch - 1];
	hi = s->bucket[batch];
	B = (int) (hi - lo);
	if (B == 0)
		return 0;
	EnsureBatch(s, s->max_bucket);
	for (int i = 0; i < B; i++)
		memcpy(s->xbuf + (size_t) i * s->d, s->X + (size_t) s->order[lo + i] * s->d,
			   sizeof(float) * s->d);
	if (s->obj.noise != AE_NOISE_NONE)
	{
		/* each row corrupted by its own stream; the target stays clean */
		for (int i = 0; i < B; i++)
		{
			AeRng		rng;

			ae_rng_seed(&rng, NoiseSeed(s->h0[s->order[lo + i]], epoch));
			ae_corrupt(&s->obj, &rng, s->xbuf + (size_t) i * s->d, s->xin + (size_t) i * s->d,
					   (size_t) s->d);
		}
	}
	return B;
}

static int
CodeWidth(const AeShard *s)
{
	return s->model.dims[s->arch.code_layer + 1];
}

/*
 * The first call of a step with the sparsity penalty: AE_GS_CODE with the
 * code activations of the batch's B rows (gathered) added up per unit.
 */
static bytea *
CodeSums(AeShard *s, uint64 id, int epoch, int batch, int B)
{
	int			h = CodeWidth(s);
	double	   *sums = palloc0(sizeof(double) * h);
	bytea	   *out;

	if (B > 0)
		ae_check_status(ae_code_sums(&s->model, s->ws, s->xin ? s->xin : s->xbuf, B, sums),
						NULL, "cannot run a shard step");
	out = AeShardMakeState(AE_GS_CODE, id, epoch, batch, B, NULL, 0, sums, (uint32) h, NULL, 0);
	pfree(sums);
	s->code_id = id;
	s->code_epoch = epoch;
	s->code_batch = batch;
	s->code_rows = B;
	return out;
}

int
AeShardBadCodeSum(const AeGradState *gs)
{
	for (uint32 j = 0; j < gs->n_doubles; j++)
	{
		double		v = ae_grad_state_double(gs, j);

		/* a sigmoid unit's activations are in [0, 1]: their sum over rows in [0, rows] */
		if (!(v >= 0 && v <= (double) gs->rows))
			return (int) j;
	}
	return -1;
}

/*
 * The second call: the coordinator's AE_GS_CODE, the code sums of the
 * whole batch over its rows, checked against the batch this shard summed
 * last and turned into the batch's code mean (h doubles into mean).
 * Returns the rows of this shard's part, still in xbuf.
 */
static int
CodeMean(AeShard *s, const AeGradState *gs, int epoch, int batch, double *mean)
{
	int			h = CodeWidth(s);
	int			B = s->code_rows;

	if (s->code_id == 0 || gs->snapshot != s->code_id || gs->epoch != epoch || gs->batch != batch ||
		s->code_epoch != epoch || s->code_batch != batch)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot run a shard step: the code sums are not of the batch this shard summed last")));
	if (gs->n_ints != 0 || gs->n_floats != 0 || gs->n_doubles != (uint32) h ||
		gs->rows < Max(B, 1))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot run a shard step: the batch's code sums are malformed"),
				 errdetail("%u sums over " INT64_FORMAT " rows for a code layer of %d units and a part of %d rows.",
						   gs->n_doubles, (int64) gs->rows, h, B)));
	{
		int			bad = AeShardBadCodeSum(gs);

		if (bad >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("cannot run a shard step: the code sum %g of unit %d is outside [0, " INT64_FORMAT "]",
							ae_grad_state_double(gs, bad), bad + 1, (int64) gs->rows)));
	}
	for (int j = 0; j < h; j++)
		mean[j] = ae_grad_state_double(gs, j) / (double) gs->rows;
	s->code_id = 0;				/* one gradient per sum */
	return B;
}

/*
 * One call of an optimiser step.  With a weights snapshot: AE_GS_GRADIENT,
 * the gradient sums of this shard's rows of the batch -- or, when the
 * objective has the sparsity penalty, whose ρ̂ is a mean over the whole
 * batch, first AE_GS_CODE with the code sums of these rows; the second
 * call brings the coordinator's AE_GS_CODE for the whole batch and gets
 * the gradient sums.
 */
bytea *
AeShardStep(AeShard *s, const bytea *request, int epoch, int batch, int n_batches)
{
	AeGradState gs;
	uint64		id;
	int			B;
	double		sums[2] = {0, 0};
	double	   *mean = NULL;
	AeLossParts parts;
	AeStatus	st;
	bytea	   *out;
	float	   *grad;

	if (epoch < 1 || n_batches < 1 || n_batches > PG_INT32_MAX / 2 || batch < 1 || batch > n_batches)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard step %d of %d in epoch %d is out of range", batch, n_batches, epoch)));
	/* a weights snapshot, or the second call's code sums (the sparsity penalty) */
	ParseKinds(VARDATA_ANY(request), VARSIZE_ANY_EXHDR(request), AE_GS_WEIGHTS, AE_GS_CODE, &gs,
			   "cannot run a shard step");
	if (gs.kind == AE_GS_WEIGHTS)
	{
		id = LoadWeights(s, &gs);
		B = GatherBatch(s, epoch, batch, n_batches);
		if (s->obj.sparsity_weight > 0)
			return CodeSums(s, id, epoch, batch, B);
	}
	else
	{
		if (s->params == NULL || s->obj.sparsity_weight == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("cannot run a shard step: code sums for a network without the sparsity penalty")));
		mean = palloc(sizeof(double) * CodeWidth(s));
		B = CodeMean(s, &gs, epoch, batch, mean);
		id = gs.snapshot;
	}
	if (B == 0)
	{
		if (mean)
			pfree(mean);
		return AeShardMakeState(AE_GS_GRADIENT, id, epoch, batch, 0, NULL, 0, sums, 2, NULL, 0);
	}

	/* the gradient is computed where the answer keeps it: megabytes not copied a step */
	out = AllocState(0, 2, (uint32) s->n_params);
	grad = ae_grad_state_floats_in_place((unsigned char *) VARDATA(out), 0, 2);
	if (grad == NULL)
		grad = s->grad;
	/* the second call: ws still holds the encoder's activations of the first (CodeMean) */
	st = ae_loss_grad_part(&s->model, s->ws, &s->obj, s->xin ? s->xin : s->xbuf, s->xbuf, B, mean,
						   mean != NULL, grad, &parts, NULL);
	if (st == AE_ERR_NONFINITE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the loss became non-finite in epoch %d, batch %d", epoch, batch),
				 errhint("Lower the learning rate, or set clip_norm.")));
	ae_check_status(st, NULL, "cannot run a shard step");
	/* the core gives the batch mean: the coordinator wants sums */
	for (size_t i = 0; i < s->n_params; i++)
		grad[i] *= (float) B;
	sums[0] = parts.total * B;
	sums[1] = parts.recon * B;
	ae_grad_state_write((unsigned char *) VARDATA(out), AE_GS_GRADIENT, id, epoch, batch, B,
						NULL, 0, sums, 2, grad, (uint32) s->n_params);
	if (mean)
		pfree(mean);
	return out;
}

/* Each of B rows' mean squared error at the loaded weights (sq: B × d scratch). */
static void
RowErrors(AeShard *s, const float *x, int B, float *sq, float *out)
{
	ae_feature_sqerr(&s->model, x, B, sq, s->scratch);
	for (int k = 0; k < B; k++)
	{
		double		e = 0;

		for (int j = 0; j < s->d; j++)
			e += sq[(size_t) k * s->d + j];
		out[k] = (float) (e / s->d);
	}
}

bytea *
AeShardEval(AeShard *s, const bytea *snapshot, int what)
{
	uint64		id = LoadSnapshot(s, snapshot);
	const int	chunk = 256;
	double		sum = 0;
	AeLossParts parts;

	EnsureBatch(s, Max(s->max_bucket, chunk));
	if (what == AE_SHARD_EVAL_VALIDATION)
	{
		for (int64 i = 0; i < s->n_val; i += chunk)
		{
			int			B = (int) Min(chunk, s->n_val - i);

			for (int k = 0; k < B; k++)
				memcpy(s->xbuf + (size_t) k * s->d, s->X + (size_t) s->val[i + k] * s->d,
					   sizeof(float) * s->d);
			ae_check_status(ae_loss_only(&s->model, s->ws, &s->obj, s->xbuf, s->xbuf, B,
										 &parts, NULL), NULL, "cannot evaluate a shard");
			sum += parts.recon * B;
			CHECK_FOR_INTERRUPTS();
		}
		return AeShardMakeState(AE_GS_EVAL, id, 0, 0, s->n_val, NULL, 0, &sum, 1, NULL, 0);
	}
	else if (what == AE_SHARD_EVAL_ERRORS)
	{
		float	   *errors = palloc_extended(sizeof(float) * Max(s->n, 1), MCXT_ALLOC_HUGE);
		float	   *sq = palloc(sizeof(float) * (size_t) chunk * s->d);

		if (s->n > AE_GS_MAX_COUNT)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a shard sends the errors of at most %u rows", AE_GS_MAX_COUNT)));
		for (int64 i = 0; i < s->n; i += chunk)
		{
			int			B = (int) Min(chunk, s->n - i);

			RowErrors(s, s->X + (size_t) i * s->d, B, sq, errors + i);
			CHECK_FOR_INTERRUPTS();
		}
		return AeShardMakeState(AE_GS_EVAL, id, 0, 0, s->n, NULL, 0, &sum, 1, errors, (uint32) s->n);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown shard evaluation %d", what)));
	return NULL;
}

/*
 * Every row's reconstruction error for the rows of a query (its columns the
 * model's inputs, as float8, in original units), computed a chunk at a
 * time at the snapshot's weights and normalisation: the final pass of a
 * training whose rows no backend holds (the aggregate mode).  relname names
 * the rows in messages.
 */
bytea *
AeShardQueryErrors(const char *sql, int d, const bytea *snapshot, const char *relname)
{
	const int	chunk = 256;
	AeShard    *s = palloc0(sizeof(AeShard));
	uint64		id;
	float	   *errors;
	float	   *sq;
	int64		n = 0,
				cap = 1024;
	Datum	   *values = palloc(sizeof(Datum) * d);
	bool	   *nulls = palloc(sizeof(bool) * d);
	double		zero = 0;
	Portal		portal;
	int			ret;
	MemoryContext outer = CurrentMemoryContext;

	s->cxt = outer;
	s->d = d;
	id = LoadSnapshot(s, snapshot);
	if (!s->has_norm)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cannot evaluate the rows of %s: the snapshot carries no normalisation", relname)));
	EnsureBatch(s, chunk);
	sq = palloc(sizeof(float) * (size_t) chunk * d);
	errors = palloc_extended(sizeof(float) * cap, MCXT_ALLOC_HUGE);
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));
	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		int			B;

		SPI_cursor_fetch(portal, true, chunk);
		if (SPI_processed == 0)
			break;
		B = (int) SPI_processed;
		for (int r = 0; r < B; r++)
		{
			heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
			for (int j = 0; j < d; j++)
			{
				double		x = nulls[j] ? NAN : DatumGetFloat8(values[j]);

				/* the statistics pass checked them; rows may have changed since */
				if (!isfinite(x) || fabs(x) > FLT_MAX)
					ereport(ERROR,
							(errcode(nulls[j] ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_DATA_EXCEPTION),
							 errmsg("input %d is %s in row " INT64_FORMAT " of %s", j + 1,
									nulls[j] ? "NULL" : "not a finite real", n + r + 1, relname)));
				s->xbuf[(size_t) r * d + j] = (float) x;
			}
		}
		SPI_freetuptable(SPI_tuptable);
		ae_norm_apply(s->params + s->n_params, s->params + s->n_params + d, s->xbuf, (size_t) B, d);
		if (n + B > cap)
		{
			if (cap >= AE_GS_MAX_COUNT)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the errors of at most %u rows are collected", AE_GS_MAX_COUNT)));
			cap = Min(cap * 2, (int64) AE_GS_MAX_COUNT);
			errors = repalloc_huge(errors, sizeof(float) * cap);
		}
		RowErrors(s, s->xbuf, B, sq, errors + n);
		n += B;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return AeShardMakeState(AE_GS_EVAL, id, 0, 0, n, NULL, 0, &zero, 1, errors, (uint32) n);
}

/*
 * The approximate mode: one epoch of ordinary training on this shard's
 * training rows from the snapshot's weights (a fresh optimiser, the
 * options' batch size and learning rate, decayed by lr_decay^(round - 1),
 * shuffled with seed + round), returned as the weights times the rows
 * trained on, for the coordinator's weighted average.
 */
bytea *
AeShardLocal(AeShard *s, const bytea *snapshot, Jsonb *options, int round)
{
	uint64		id = LoadSnapshot(s, snapshot);
	AeTrainOptions opts;
	AeTrainConfig cfg;
	AeTrainResult res;
	AeTrainProgress progress = {0};
	char		errbuf[AE_ERRBUF_SIZE] = "";
	double		sums[2] = {0, 0};
	float	   *out;

	if (round < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("local training round %d is out of range", round)));
	if (s->n_train == 0)
		return AeShardMakeState(AE_GS_GRADIENT, id, round, 0, 0, NULL, 0, sums, 2, NULL, 0);
	AeOptionsFromJsonbNamed(&opts, options);	/* a warm start's options too: the snapshot is its weights */
	{
		/* the defaults that depend on the optimiser and the width, as the coordinator resolved them */
		AeArch		resolved;

		AeTrainerResolve(&opts, s->d, NULL, &resolved, "cannot train a shard locally");
	}
	AeTrainerFillConfig(&cfg, &opts);
	cfg.objective = s->obj;
	cfg.epochs = 1;
	cfg.validation_fraction = 0;
	cfg.patience = 0;
	cfg.shuffle = true;
	cfg.seed = (uint64_t) opts.seed + (uint64_t) round;
	cfg.optim.learning_rate = (float) (cfg.optim.learning_rate * pow(cfg.optim.lr_decay, round - 1));
	ae_check_status(ae_train_config_validate(&cfg, &s->model, errbuf), errbuf,
					"cannot train a shard locally");
	if (s->Xtrain == NULL)
	{
		double		bytes = sizeof(float) * (double) s->n_train * s->d;

		/* a second copy of the training rows, counted with the first */
		if (AeTrainerMaxRows(s->others + s->held, (Size) Max(bytes, 1)) < 1)
			TooManyRows(s, (double) s->others + (double) s->held + bytes);
		s->Xtrain = MemoryContextAllocHuge(s->cxt, sizeof(float) * (size_t) s->n_train * s->d);
		for (int64 i = 0; i < s->n_train; i++)
			memcpy(s->Xtrain + (size_t) i * s->d, s->X + (size_t) s->train[i] * s->d,
				   sizeof(float) * s->d);
	}
	progress.epochs = 1;
	progress.n_rows = s->n_train;
	memset(&res, 0, sizeof(res));
	ae_check_status(ae_train(&s->model, &cfg, s->Xtrain, (size_t) s->n_train, &ae_palloc_allocator,
							 AeTrainerProgress, &progress, &res, errbuf),
					errbuf, "cannot train a shard locally");
	out = palloc_extended(sizeof(float) * Max(s->n_params, 1), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < s->n_params; i++)
		out[i] = s->params[i] * (float) s->n_train;
	sums[0] = res.train_loss * (double) s->n_train;
	return AeShardMakeState(AE_GS_GRADIENT, id, round, 0, s->n_train, NULL, 0, sums, 2,
					 out, (uint32) s->n_params);
}

/* ------------------------------------------------------------- SQL */

/* The shards this backend holds for remote coordinators, by session name. */
static List *open_shards = NIL;

/* The rows the open sessions of this backend hold (autoenc.max_train_memory counts them all). */
static Size
OpenShardsBytes(void)
{
	ListCell   *lc;
	Size		sum = 0;

	foreach(lc, open_shards)
		sum += AeShardBytes((AeShard *) lfirst(lc));
	return sum;
}

static AeShard *
FindShard(const char *session, bool missing_ok)
{
	ListCell   *lc;

	foreach(lc, open_shards)
	{
		AeShard    *s = lfirst(lc);

		if (strcmp(s->session, session) == 0)
			return s;
	}
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no shard session \"%s\" in this backend", session),
				 errhint("Open it with ae_shard_open on the same connection.")));
	return NULL;
}

static char *
SessionArg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("session must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

PG_FUNCTION_INFO_V1(ae_shard_open);
Datum
ae_shard_open(PG_FUNCTION_ARGS)
{
	char	   *session = SessionArg(fcinfo);
	Datum	   *elems;
	bool	   *nulls;
	int			ncols;
	char	  **columns;
	AeShard    *s;
	MemoryContext old;

	for (int i = 1; i <= 5; i++)
		if (PG_ARGISNULL(i) && i != 3)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of ae_shard_open but key must not be NULL")));
	if (FindShard(session, true))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("shard session \"%s\" is already open in this backend", session)));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &ncols);
	columns = palloc(sizeof(char *) * Max(ncols, 1));
	for (int j = 0; j < ncols; j++)
	{
		if (nulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("column names must not be NULL")));
		columns[j] = TextDatumGetCString(elems[j]);
	}
	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the arguments of ae_shard_open but key must not be NULL")));
	s = AeShardOpen(TopMemoryContext, PG_GETARG_OID(1), columns, ncols,
					PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)), PG_GETARG_INT64(4),
					PG_GETARG_FLOAT8(5), PG_GETARG_INT64(6), OpenShardsBytes());
	old = MemoryContextSwitchTo(TopMemoryContext);
	s->session = MemoryContextStrdup(s->cxt, session);
	open_shards = lappend(open_shards, s);
	MemoryContextSwitchTo(old);
	AeShardRetainHeap(true);
	PG_RETURN_BYTEA_P(AeShardStats(s));
}

static int64
ThresholdArg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("threshold must not be NULL")));
	return PG_GETARG_INT64(1);
}

PG_FUNCTION_INFO_V1(ae_shard_count_below);
Datum
ae_shard_count_below(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), false);

	PG_RETURN_INT64(AeShardCountBelow(s, ThresholdArg(fcinfo)));
}

PG_FUNCTION_INFO_V1(ae_shard_keep_below);
Datum
ae_shard_keep_below(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), false);

	PG_RETURN_BYTEA_P(AeShardKeepBelow(s, ThresholdArg(fcinfo)));
}

PG_FUNCTION_INFO_V1(ae_shard_normalize);
Datum
ae_shard_normalize(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), false);
	ArrayType  *off;
	ArrayType  *sc;
	int			d;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("offset and scale must not be NULL")));
	off = PG_GETARG_ARRAYTYPE_P(1);
	sc = PG_GETARG_ARRAYTYPE_P(2);
	/* a shard without rows of an array input takes the width it is given */
	d = s->array && s->n == 0 && ARR_NDIM(off) == 1 ? ARR_DIMS(off)[0] : s->d;
	if (ARR_NDIM(off) != 1 || ARR_NDIM(sc) != 1 || ARR_HASNULL(off) || ARR_HASNULL(sc) ||
		ARR_DIMS(off)[0] != d || ARR_DIMS(sc)[0] != d)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("offset and scale must be arrays of %d non-NULL reals", d)));
	AeShardNormalize(s, (float *) ARR_DATA_PTR(off), (float *) ARR_DATA_PTR(sc), d);
	PG_RETURN_INT64(s->n);
}

PG_FUNCTION_INFO_V1(ae_shard_step);
Datum
ae_shard_step(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), false);

	for (int i = 1; i <= 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of ae_shard_step must not be NULL")));
	PG_RETURN_BYTEA_P(AeShardStep(s, PG_GETARG_BYTEA_PP(1), PG_GETARG_INT32(2),
								  PG_GETARG_INT32(3), PG_GETARG_INT32(4)));
}

PG_FUNCTION_INFO_V1(ae_shard_eval);
Datum
ae_shard_eval(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), false);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the arguments of ae_shard_eval must not be NULL")));
	PG_RETURN_BYTEA_P(AeShardEval(s, PG_GETARG_BYTEA_PP(1), PG_GETARG_INT32(2)));
}

PG_FUNCTION_INFO_V1(ae_shard_local);
Datum
ae_shard_local(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), false);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the snapshot and the round of ae_shard_local must not be NULL")));
	PG_RETURN_BYTEA_P(AeShardLocal(s, PG_GETARG_BYTEA_PP(1),
								   PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2),
								   PG_GETARG_INT32(3)));
}

PG_FUNCTION_INFO_V1(ae_shard_close);
Datum
ae_shard_close(PG_FUNCTION_ARGS)
{
	AeShard    *s = FindShard(SessionArg(fcinfo), true);

	if (s == NULL)
		PG_RETURN_BOOL(false);
	open_shards = list_delete_ptr(open_shards, s);
	AeShardFree(s);
	AeShardRetainHeap(false);
	PG_RETURN_BOOL(true);
}

/* How many shard sessions this backend holds (tests prove none is left). */
PG_FUNCTION_INFO_V1(ae_shard_sessions);
Datum
ae_shard_sessions(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(list_length(open_shards));
}
