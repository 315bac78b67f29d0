/*
 * ae_grad_agg.c — ae_grad_agg(snapshot, x) and the ae_grad type
 * (ae_grad_agg.h): one optimiser step's gradient sums as an aggregate that
 * distributed engines push to their workers, for training across shards on
 * engines whose nodes cannot keep rows in a session (Citus).
 *
 * Also the SQL pieces such a driver needs (doc/scaling.md, "Citus"):
 * ae_grad_snapshot(model) makes a weights snapshot of a stored model with
 * its normalisation, and ae_shard_batch / ae_shard_is_validation give a
 * row's batch and split by the rule every shard uses, so a step is one
 * query:
 *
 *   SELECT ae_grad_finish(ae_grad_agg($snapshot, x), $snapshot) FROM t
 *   WHERE NOT ae_shard_is_validation(k, $seed, 0.1)
 *     AND ae_shard_batch(k, $seed, $epoch, $n_batches) = $batch;
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "ae_bundle.h"
#include "ae_catalog.h"
#include "ae_compat.h"
#include "ae_grad_agg.h"
#include "ae_norm.h"
#include "ae_grad_state.h"
#include "ae_json.h"
#include "ae_shard.h"
#include "autoenc.h"

#define WHAT "cannot add to a step's gradient"

/* ---------------------------------------------------------------- the snapshot */

/* A parsed weights snapshot, kept in fn_extra for every row of a query. */
typedef struct StepSnapshot
{
	uint64		id;
	Size		len;			/* bytes of the snapshot it was parsed from */
	int			d;
	AeArch		arch;
	AeObjective obj;
	AeModel		model;
	float	   *params;
	float	   *offset;			/* NULL: the rows come normalised */
	float	   *scale;
	AeWorkspace *ws;			/* for AE_GRAD_CHUNK rows */
	int			ws_rows;
	float	   *grad;
} StepSnapshot;

static StepSnapshot *
LoadSnapshot(FmgrInfo *flinfo, const bytea *b, int rows)
{
	StepSnapshot   *sn = (StepSnapshot *) flinfo->fn_extra;
	AeGradState gs;
	AeLoss		loss;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	MemoryContext old;
	size_t		n_params;
	AeArch		arch;
	uint64		id;

	/*
	 * Every row passes the same snapshot: its identity and length tell it
	 * from the one already parsed without checking a megabyte per row.
	 */
	if (sn != NULL && VARSIZE_ANY_EXHDR(b) == sn->len && VARSIZE_ANY_EXHDR(b) >= AE_GS_HEADER &&
		sn->ws_rows >= rows)
	{
		memcpy(&id, VARDATA_ANY(b) + 16, sizeof(id));
		if (id == sn->id)
			return sn;
	}
	AeShardParseState(b, AE_GS_WEIGHTS, &gs, WHAT);
	if (ae_grad_state_arch(&gs, &arch, &loss, errbuf) != AE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: invalid weights snapshot", WHAT),
				 errdetail("%s.", errbuf)));
	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	if (sn == NULL)
		sn = flinfo->fn_extra = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(StepSnapshot));
	else
	{
		if (sn->ws)
			ae_workspace_destroy(sn->ws, &ae_palloc_allocator);
		if (sn->params)
			pfree(sn->params);
		if (sn->grad)
			pfree(sn->grad);
		memset(sn, 0, sizeof(*sn));
	}
	sn->arch = arch;
	sn->d = arch.n_inputs;
	sn->len = VARSIZE_ANY_EXHDR(b);
	n_params = ae_arch_param_count(&sn->arch);
	/* the parameters, and optionally the normalisation after them */
	if (gs.n_floats != n_params && gs.n_floats != n_params + 2 * (size_t) sn->d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the snapshot holds %u numbers; its network has %zu parameters",
						WHAT, gs.n_floats, n_params)));
	sn->params = palloc_extended(sizeof(float) * gs.n_floats, MCXT_ALLOC_HUGE);
	ae_grad_state_floats(&gs, sn->params);
	if (gs.n_floats > n_params)
	{
		sn->offset = sn->params + n_params;
		sn->scale = sn->offset + sn->d;
		for (int j = 0; j < sn->d; j++)
			if (!(sn->scale[j] != 0.0f))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("%s: the snapshot's normalisation scale %d is zero", WHAT, j + 1)));
	}
	ae_check_status(ae_model_bind(&sn->model, &sn->arch, sn->params, errbuf), errbuf, WHAT);
	AeShardSnapshotObjective(&gs, loss, &sn->obj, WHAT);
	/* a row's noise is drawn from its key, which the aggregate's rows do not bring */
	if (sn->obj.noise != AE_NOISE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: the aggregate cannot apply the snapshot's denoising", WHAT)));
	/* the sparsity penalty's ρ̂ is a mean over the whole batch, which no partial state holds */
	if (sn->obj.sparsity_weight > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: the aggregate cannot apply the snapshot's sparsity penalty", WHAT)));
	sn->ws_rows = Max(rows, AE_GRAD_CHUNK);
	sn->ws = ae_workspace_create(&sn->model, &sn->obj, sn->ws_rows, &ae_palloc_allocator);
	sn->grad = palloc_extended(sizeof(float) * n_params, MCXT_ALLOC_HUGE);
	sn->id = gs.snapshot;
	MemoryContextSwitchTo(old);
	return sn;
}

/* ---------------------------------------------------------------- the state */

static inline Size
StateSize(int n_params, int capacity, int d)
{
	return AE_GRAD_HEADER + sizeof(float) * ((Size) n_params + (Size) capacity * d);
}

static AeGradAgg *
NewState(MemoryContext cxt, uint64 id, int d, int n_params, int capacity)
{
	Size		len = StateSize(n_params, capacity, d);
	AeGradAgg  *st;

	if (len > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: the state would need %zu bytes", WHAT, len)));
	st = MemoryContextAllocZero(cxt, len);
	SET_VARSIZE(st, len);
	st->magic = AE_GRAD_MAGIC;
	st->version = AE_GRAD_VERSION;
	st->snapshot = id;
	st->d = d;
	st->n_params = n_params;
	st->capacity = capacity;
	return st;
}

/* The pending rows' gradient, computed in one pass and added to the sums. */
static void
Flush(AeGradAgg *st, StepSnapshot *sn)
{
	float	   *x = st->data + st->n_params;
	AeLossParts parts;
	AeStatus	st_code;
	int			B = st->pending;

	if (B == 0)
		return;
	st_code = ae_loss_grad(&sn->model, sn->ws, &sn->obj, x, x, B, sn->grad, &parts, NULL);
	if (st_code == AE_ERR_NONFINITE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: the loss became non-finite", WHAT),
				 errhint("Lower the learning rate, or set clip_norm.")));
	ae_check_status(st_code, NULL, WHAT);
	/* the core gives the batch mean: the state keeps sums */
	for (int i = 0; i < st->n_params; i++)
		st->data[i] += sn->grad[i] * (float) B;
	st->loss += parts.total * B;
	st->recon += parts.recon * B;
	st->rows += B;
	st->pending = 0;
}

static void
CheckSameStep(const AeGradAgg *a, const AeGradAgg *b)
{
	if (a->snapshot != b->snapshot || a->d != b->d || a->n_params != b->n_params)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: partial gradients of different snapshots cannot be combined", WHAT),
				 errdetail("Snapshots %016llx and %016llx.", (unsigned long long) a->snapshot,
						   (unsigned long long) b->snapshot)));
}

/* ---------------------------------------------------------------- the aggregate */

PG_FUNCTION_INFO_V1(ae_grad_transfn);

/* ae_grad_transfn(state ae_grad, snapshot bytea, x real[]) */
Datum
ae_grad_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AeGradAgg  *st = PG_ARGISNULL(0) ? NULL : (AeGradAgg *) PG_GETARG_POINTER(0);
	bytea	   *snap;
	ArrayType  *arr;
	StepSnapshot   *sn;
	float	   *row;
	const float *v;
	int			n;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_grad_transfn called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s: the snapshot and the row must not be NULL", WHAT)));
	snap = PG_GETARG_BYTEA_PP(1);
	arr = PG_GETARG_ARRAYTYPE_P(2);
	sn = LoadSnapshot(fcinfo->flinfo, snap, AE_GRAD_CHUNK);
	if (st == NULL)
		st = NewState(aggcxt, sn->id, sn->d, (int) sn->model.n_params, AE_GRAD_CHUNK);
	else if (st->snapshot != sn->id)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the rows of one step must use one snapshot", WHAT)));

	n = ARR_NDIM(arr) == 1 ? ARR_DIMS(arr)[0] : 0;
	if (ARR_NDIM(arr) != 1 || n != sn->d || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != FLOAT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s: the row must be a real[] of %d non-NULL values", WHAT, sn->d)));
	if (st->pending == st->capacity)
		Flush(st, sn);
	v = (const float *) ARR_DATA_PTR(arr);
	row = st->data + st->n_params + (Size) st->pending * st->d;
	for (int j = 0; j < n; j++)
	{
		row[j] = sn->offset ? (v[j] - sn->offset[j]) / sn->scale[j] : v[j];
		if (!isfinite(row[j]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s: element %d of the row is not finite once normalised", WHAT, j + 1)));
	}
	if (sn->obj.loss == AE_LOSS_BCE)
	{
		/* binary cross-entropy's targets, checked and clamped as ae_train does */
		size_t		bad = ae_norm_clamp_unit(row, (size_t) n);

		if (bad < (size_t) n)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s: loss \"bce\" needs inputs in [0, 1], but element %d of the row is %g once normalised",
							WHAT, (int) bad + 1, (double) row[bad]),
					 errhint("Use \"normalize\" => 'minmax'.")));
	}
	st->pending++;
	if (st->pending == st->capacity)
		Flush(st, sn);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(ae_grad_combinefn);

Datum
ae_grad_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AeGradAgg  *a = (AeGradAgg *) PG_GETARG_POINTER(0);
	AeGradAgg  *b = (AeGradAgg *) PG_DETOAST_DATUM(PG_GETARG_DATUM(1));
	int			pending;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_grad_combinefn called in non-aggregate context");
	CheckSameStep(a, b);
	pending = a->pending + b->pending;
	if (pending > a->capacity || GetMemoryChunkContext(a) != aggcxt)
	{
		/* room for both chunks, in the aggregate's context */
		AeGradAgg  *grown = NewState(aggcxt, a->snapshot, a->d, a->n_params, Max(pending, a->capacity));

		memcpy(&grown->rows, &a->rows, offsetof(AeGradAgg, crc) - offsetof(AeGradAgg, rows));
		grown->pending = a->pending;
		memcpy(grown->data, a->data, sizeof(float) * ((Size) a->n_params + (Size) a->pending * a->d));
		a = grown;
	}
	for (int i = 0; i < a->n_params; i++)
		a->data[i] += b->data[i];
	memcpy(a->data + a->n_params + (Size) a->pending * a->d, b->data + b->n_params,
		   sizeof(float) * (Size) b->pending * b->d);
	a->pending = pending;
	a->rows += b->rows;
	a->loss += b->loss;
	a->recon += b->recon;
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(ae_grad_finish);

/*
 * ae_grad_finish(state ae_grad, snapshot bytea) → bytea: the pending rows
 * computed, and the step's gradient as the partial state ae_shard_step
 * returns (kind gradient; rows, Σ loss and Σ reconstruction loss, Σ
 * gradient).
 */
Datum
ae_grad_finish(PG_FUNCTION_ARGS)
{
	AeGradAgg  *in = (AeGradAgg *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	AeGradAgg  *st = (AeGradAgg *) palloc(VARSIZE(in));
	StepSnapshot   *sn = LoadSnapshot(fcinfo->flinfo, PG_GETARG_BYTEA_PP(1), Max(in->pending, 1));
	double		sums[2];
	size_t		len;
	bytea	   *out;

	memcpy(st, in, VARSIZE(in));
	if (st->snapshot != sn->id || st->d != sn->d || st->n_params != (int) sn->model.n_params)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the partial gradient was computed at another snapshot", WHAT)));
	Flush(st, sn);
	sums[0] = st->loss;
	sums[1] = st->recon;
	len = ae_grad_state_size(0, 2, (uint32) st->n_params);
	out = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + len);
	ae_grad_state_write((unsigned char *) VARDATA(out), AE_GS_GRADIENT, st->snapshot, 0, 0, st->rows,
						NULL, 0, sums, 2, st->data, (uint32) st->n_params);
	PG_RETURN_BYTEA_P(out);
}

/* ---------------------------------------------------------------- text and binary forms */

/* The value as it travels: the chunk area cut to the pending rows, the CRC filled in. */
static AeGradAgg *
Trimmed(const AeGradAgg *st)
{
	Size		len = StateSize(st->n_params, st->pending, st->d);
	AeGradAgg  *t = palloc(len);

	memcpy(t, st, len);
	SET_VARSIZE(t, len);
	t->capacity = st->pending;
	t->crc = 0;
	t->zero = 0;
	t->crc = ae_crc32c((const char *) t + VARHDRSZ, len - VARHDRSZ);
	return t;
}

static void
BadState(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid ae_grad value"),
			 errdetail("%s", detail)));
}

/* len bytes of a travelling value into a state with room for a chunk; every field checked first */
static AeGradAgg *
Untrimmed(const char *buf, Size len)
{
	AeGradAgg	h;
	AeGradAgg  *st;
	uint32		crc;
	Size		n_floats;

	if (len < AE_GRAD_HEADER)
		BadState("The value is shorter than its header.");
	memcpy(&h, buf, AE_GRAD_HEADER);
	if (h.magic != AE_GRAD_MAGIC)
		BadState(h.magic == pg_bswap32(AE_GRAD_MAGIC) ?
				 "The value was written on a machine of the other byte order." :
				 "The value does not start with the ae_grad magic number.");
	if (h.version != AE_GRAD_VERSION)
		BadState(psprintf("Version %u is not supported; this build reads version %d.",
						  (unsigned) h.version, AE_GRAD_VERSION));
	if (h.reserved != 0 || h.zero != 0)
		BadState("Reserved fields are not zero.");
	if (h.d < 1 || h.d > AE_MAX_WIDTH || h.n_params < 1 || h.pending < 0 || h.capacity != h.pending ||
		h.rows < 0)
		BadState("The sizes or counts are out of range.");
	/* divide, never multiply, before the sizes are known to fit */
	n_floats = (len - AE_GRAD_HEADER) / sizeof(float);
	if ((len - AE_GRAD_HEADER) % sizeof(float) != 0 || n_floats < (Size) h.n_params ||
		(n_floats - h.n_params) / h.d != (Size) h.pending || (n_floats - h.n_params) % h.d != 0 ||
		len != (Size) (int32) len || len - VARHDRSZ != (Size) (VARSIZE(&h) - VARHDRSZ))
		BadState("The value's length does not match its counts.");
	{
		AeGradAgg  *tmp = palloc(len);

		memcpy(tmp, buf, len);
		tmp->crc = 0;
		crc = ae_crc32c((const char *) tmp + VARHDRSZ, len - VARHDRSZ);
		pfree(tmp);
	}
	if (crc != h.crc)
		BadState("Checksum mismatch.");
	if (!isfinite(h.loss) || !isfinite(h.recon))
		BadState("A loss sum is not finite.");
	st = NewState(CurrentMemoryContext, h.snapshot, h.d, h.n_params, Max(h.pending, AE_GRAD_CHUNK));
	memcpy(&st->rows, &h.rows, offsetof(AeGradAgg, crc) - offsetof(AeGradAgg, rows));
	st->pending = h.pending;
	memcpy(st->data, buf + AE_GRAD_HEADER, sizeof(float) * n_floats);
	for (Size i = 0; i < n_floats; i++)
		if (!isfinite(st->data[i]))
			BadState(psprintf("Number %zu is not finite.", i + 1));
	return st;
}

PG_FUNCTION_INFO_V1(ae_grad_out);
Datum
ae_grad_out(PG_FUNCTION_ARGS)
{
	AeGradAgg  *t = Trimmed((AeGradAgg *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0)));
	int			n = VARSIZE(t);
	int			prefix = strlen(AE_GRAD_TEXT_PREFIX);
	char	   *out = palloc(prefix + pg_b64_enc_len(n) + 1);
	int			m;

	memcpy(out, AE_GRAD_TEXT_PREFIX, prefix);
	m = pg_b64_encode((const ae_b64_byte *) t, n, out + prefix, pg_b64_enc_len(n));
	if (m < 0)
		elog(ERROR, "could not encode an ae_grad value");
	out[prefix + m] = '\0';
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(ae_grad_in);
Datum
ae_grad_in(PG_FUNCTION_ARGS)
{
	const char *text = PG_GETARG_CSTRING(0);
	int			prefix = strlen(AE_GRAD_TEXT_PREFIX);
	int			len;
	char	   *buf;
	int			n;

	if (strncmp(text, AE_GRAD_TEXT_PREFIX, prefix) != 0)
		BadState("The text does not start with \"" AE_GRAD_TEXT_PREFIX "\".");
	len = strlen(text + prefix);
	buf = palloc(pg_b64_dec_len(len) + 1);
	n = pg_b64_decode(text + prefix, len, (ae_b64_byte *) buf, pg_b64_dec_len(len));
	if (n < 0)
		BadState("The text is not valid base64.");
	PG_RETURN_POINTER(Untrimmed(buf, (Size) n));
}

PG_FUNCTION_INFO_V1(ae_grad_send);
Datum
ae_grad_send(PG_FUNCTION_ARGS)
{
	AeGradAgg  *t = Trimmed((AeGradAgg *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0)));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (const char *) t, VARSIZE(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(ae_grad_recv);
Datum
ae_grad_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			n = buf->len - buf->cursor;
	const char *p = pq_getmsgbytes(buf, n);

	PG_RETURN_POINTER(Untrimmed(p, (Size) n));
}

/* ---------------------------------------------------------------- a driver's pieces */

PG_FUNCTION_INFO_V1(ae_grad_snapshot);

/*
 * ae_grad_snapshot(model text) → bytea: a weights snapshot of the stored
 * model with its normalisation, identified by the model's catalog id and
 * version.
 */
Datum
ae_grad_snapshot(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			version;
	int64		model_id;
	AeBundle   *b = ae_catalog_fetch_id(name, AE_ACCESS_USE, &version, &model_id);
	AeModel		m;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	int32		ints[AE_GS_ARCH_INTS(AE_MAX_HIDDEN)];
	uint32		n_ints = AE_GS_ARCH_INTS(b->arch.n_hidden);
	AeLoss		loss = b->arch.output_act == AE_ACT_SIGMOID ? AE_LOSS_BCE : AE_LOSS_MSE;
	double		l1 = 0.0;
	int			d = b->arch.n_inputs;
	float	   *floats;
	size_t		len;
	bytea	   *out;

	if (b->encoding_json)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" has categorical, date/time or NULL-learning columns, which training across shards does not support",
						name)));
	ae_check_status(ae_model_bind(&m, &b->arch, b->params, errbuf), errbuf, WHAT);
	if (b->config_json)
	{
		/* the loss and the L1 penalty it was trained with */
		Jsonb	   *cfg = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(b->config_json)));
		JsonbValue	v;

		if (getKeyJsonValueFromContainer(&cfg->root, "loss", 4, &v) && v.type == jbvString)
			loss = v.val.string.len == 3 && memcmp(v.val.string.val, "bce", 3) == 0 ? AE_LOSS_BCE : AE_LOSS_MSE;
		if (getKeyJsonValueFromContainer(&cfg->root, "l1_activity", 11, &v) && v.type == jbvNumeric)
			l1 = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v.val.numeric)));
	}
	floats = palloc_extended(sizeof(float) * (m.n_params + 2 * (size_t) d), MCXT_ALLOC_HUGE);
	memcpy(floats, b->params, sizeof(float) * m.n_params);
	memcpy(floats + m.n_params, b->norm_offset, sizeof(float) * d);
	memcpy(floats + m.n_params + d, b->norm_scale, sizeof(float) * d);
	ae_grad_state_arch_ints(&b->arch, loss, ints);
	len = ae_grad_state_size(n_ints, 1, (uint32) (m.n_params + 2 * (size_t) d));
	out = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + len);
	ae_grad_state_write((unsigned char *) VARDATA(out), AE_GS_WEIGHTS,
						((uint64) model_id << 32) | (uint32) version, 0, 0, 0,
						ints, n_ints, &l1, 1, floats, (uint32) (m.n_params + 2 * (size_t) d));
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(ae_shard_batch);

/* ae_shard_batch(key text, seed bigint, epoch integer, n_batches integer) → integer, 1-based */
Datum
ae_shard_batch(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	int64		seed = PG_GETARG_INT64(1);
	int32		epoch = PG_GETARG_INT32(2);
	int32		n_batches = PG_GETARG_INT32(3);

	if (epoch < 1 || n_batches < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epoch and n_batches must be at least 1, not %d and %d", epoch, n_batches)));
	PG_RETURN_INT32(AeShardBatchOf(AeShardKeyHash(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), seed),
								   epoch, n_batches) + 1);
}

PG_FUNCTION_INFO_V1(ae_shard_is_validation);

/* ae_shard_is_validation(key text, seed bigint, validation_fraction double precision) → boolean */
Datum
ae_shard_is_validation(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	double		f = PG_GETARG_FLOAT8(2);

	if (!(f >= 0.0 && f <= 0.9))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("validation_fraction must be between 0 and 0.9, not %g", f)));
	PG_RETURN_BOOL(AeShardIsValidation(AeShardKeyHash(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
													  PG_GETARG_INT64(1)), f));
}

PG_FUNCTION_INFO_V1(ae_partial_info);

/*
 * ae_partial_info(state bytea) → jsonb: a partial state (snapshot, gradient,
 * evaluation, statistics, code sums) checked and described: its kind, snapshot
 * identity, epoch, batch, rows and its three arrays — for drivers of
 * sharded training written in SQL, and for tests.
 */
Datum
ae_partial_info(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	AeGradState gs;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	StringInfoData buf;
	double	   *doubles;
	float	   *floats;

	if (ae_grad_state_parse((const unsigned char *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &gs, errbuf) != AE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid partial state"),
				 errdetail("%s.", errbuf)));
	doubles = palloc(sizeof(double) * Max(gs.n_doubles, 1));
	for (uint32 i = 0; i < gs.n_doubles; i++)
		doubles[i] = ae_grad_state_double(&gs, i);
	floats = palloc_extended(sizeof(float) * Max(gs.n_floats, 1), MCXT_ALLOC_HUGE);
	ae_grad_state_floats(&gs, floats);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"kind\": \"%s\", \"snapshot\": \"%016llx\", \"epoch\": %d, \"batch\": %d, \"rows\": " INT64_FORMAT ", \"ints\": [",
					 ae_grad_state_kind_name(gs.kind),
					 (unsigned long long) gs.snapshot, gs.epoch, gs.batch, gs.rows);
	for (uint32 i = 0; i < gs.n_ints; i++)
		appendStringInfo(&buf, "%s%d", i ? ", " : "", ae_grad_state_int(&gs, i));
	appendStringInfoString(&buf, "], \"doubles\": ");
	ae_json_float8_array(&buf, doubles, gs.n_doubles);
	appendStringInfoString(&buf, ", \"floats\": ");
	ae_json_float4_array(&buf, floats, gs.n_floats);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_JSONB_P(ae_json_finish(&buf));
}
