/*
 * ae_onnx_write.c — a bundle as an ONNX model (the graph is described in
 * ae_onnx.h).
 *
 * The protobuf-c message structs are built in a small arena (every block
 * taken from the caller's allocator and listed, so one call frees them all)
 * and point at the bundle's own arrays wherever the layout allows, so the
 * only large copies are the transposes of tied decoder weights and the
 * packed output itself.
 */
#include "ae_onnx.h"

#include <stdio.h>
#include <string.h>

#include "ae_act.h"
#include "onnx.pb-c.h"

/* ---------------------------------------------------------------- arena */

#define ARENA_MAX_BLOCKS 1024

typedef struct Arena
{
	const AeAllocator *al;
	void	   *blocks[ARENA_MAX_BLOCKS];
	int			n;
	bool		failed;
} Arena;

static void *
ArenaAlloc(Arena *a, size_t size)
{
	void	   *p;

	if (a->failed || a->n >= ARENA_MAX_BLOCKS)
	{
		a->failed = true;
		return NULL;
	}
	p = ae_alloc(a->al, size);
	if (p == NULL)
	{
		a->failed = true;
		return NULL;
	}
	memset(p, 0, size);
	a->blocks[a->n++] = p;
	return p;
}

static void
ArenaFree(Arena *a)
{
	for (int i = 0; i < a->n; i++)
		ae_free(a->al, a->blocks[i]);
	a->n = 0;
}

static char *
ArenaString(Arena *a, const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *p = ArenaAlloc(a, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---------------------------------------------------------------- builders */

typedef struct Graph
{
	Arena	   *arena;
	Onnx__GraphProto *g;
	int			max_nodes;
	int			max_inits;
	int			max_outputs;
} Graph;

/* A float32 initializer of rank 1 or 2 over data (not copied). */
static void
AddInitializer(Graph *gr, const char *name, int rows, int cols, const float *data)
{
	Onnx__TensorProto *t = ArenaAlloc(gr->arena, sizeof(*t));
	int64_t    *dims = ArenaAlloc(gr->arena, 2 * sizeof(int64_t));

	if (t == NULL || dims == NULL || (int) gr->g->n_initializer >= gr->max_inits)
	{
		gr->arena->failed = true;
		return;
	}
	onnx__tensor_proto__init(t);
	t->name = ArenaString(gr->arena, name);
	t->has_data_type = true;
	t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	if (rows > 0)
	{
		dims[0] = rows;
		dims[1] = cols;
		t->n_dims = 2;
	}
	else
	{
		dims[0] = cols;
		t->n_dims = 1;
	}
	t->dims = dims;
	t->n_float_data = (size_t) (rows > 0 ? rows : 1) * cols;
	t->float_data = (float *) data;
	gr->g->initializer[gr->g->n_initializer++] = t;
}

/* A named attribute of a type, its value still to be set (NULL when out of memory). */
static Onnx__AttributeProto *
NewAttribute(Graph *gr, const char *name, Onnx__AttributeProto__AttributeType type)
{
	Onnx__AttributeProto *a = ArenaAlloc(gr->arena, sizeof(*a));

	if (a == NULL)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = ArenaString(gr->arena, name);
	a->has_type = true;
	a->type = type;
	return a;
}

static Onnx__AttributeProto *
IntAttribute(Graph *gr, const char *name, int64_t value)
{
	Onnx__AttributeProto *a = NewAttribute(gr, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

	if (a == NULL)
		return NULL;
	a->has_i = true;
	a->i = value;
	return a;
}

static Onnx__AttributeProto *
IntsAttribute(Graph *gr, const char *name, int64_t value)
{
	Onnx__AttributeProto *a = NewAttribute(gr, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	int64_t    *v = ArenaAlloc(gr->arena, sizeof(int64_t));

	if (a == NULL || v == NULL)
		return NULL;
	v[0] = value;
	a->n_ints = 1;
	a->ints = v;
	return a;
}

static Onnx__AttributeProto *
FloatAttribute(Graph *gr, const char *name, float value)
{
	Onnx__AttributeProto *a = NewAttribute(gr, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

	if (a == NULL)
		return NULL;
	a->has_f = true;
	a->f = value;
	return a;
}

/* A node of the default domain; inputs NULL-terminated, one output. */
static Onnx__NodeProto *
AddNode(Graph *gr, const char *op, const char *name, const char *output, const char *in0,
		const char *in1, const char *in2)
{
	Onnx__NodeProto *n = ArenaAlloc(gr->arena, sizeof(*n));
	char	  **ins = ArenaAlloc(gr->arena, 3 * sizeof(char *));
	char	  **outs = ArenaAlloc(gr->arena, sizeof(char *));
	Onnx__AttributeProto **attrs = ArenaAlloc(gr->arena, 4 * sizeof(*attrs));

	if (n == NULL || ins == NULL || outs == NULL || attrs == NULL ||
		(int) gr->g->n_node >= gr->max_nodes)
	{
		gr->arena->failed = true;
		return NULL;
	}
	onnx__node_proto__init(n);
	n->op_type = ArenaString(gr->arena, op);
	n->name = ArenaString(gr->arena, name);
	ins[n->n_input++] = ArenaString(gr->arena, in0);
	if (in1)
		ins[n->n_input++] = ArenaString(gr->arena, in1);
	if (in2)
		ins[n->n_input++] = ArenaString(gr->arena, in2);
	n->input = ins;
	outs[0] = ArenaString(gr->arena, output);
	n->n_output = 1;
	n->output = outs;
	n->attribute = attrs;
	gr->g->node[gr->g->n_node++] = n;
	return n;
}

static void
AddAttribute(Graph *gr, Onnx__NodeProto *n, Onnx__AttributeProto *a)
{
	if (n == NULL || a == NULL || n->n_attribute >= 4)
	{
		gr->arena->failed = true;
		return;
	}
	n->attribute[n->n_attribute++] = a;
}

/* A float32 value of shape [rows symbol, cols] (cols < 0: rank 1, [rows symbol]). */
static Onnx__ValueInfoProto *
ValueInfo(Graph *gr, const char *name, int cols)
{
	Arena	   *a = gr->arena;
	Onnx__ValueInfoProto *vi = ArenaAlloc(a, sizeof(*vi));
	Onnx__TypeProto *tp = ArenaAlloc(a, sizeof(*tp));
	Onnx__TypeProto__Tensor *tt = ArenaAlloc(a, sizeof(*tt));
	Onnx__TensorShapeProto *sh = ArenaAlloc(a, sizeof(*sh));
	Onnx__TensorShapeProto__Dimension **dims = ArenaAlloc(a, 2 * sizeof(*dims));
	Onnx__TensorShapeProto__Dimension *d0 = ArenaAlloc(a, sizeof(*d0));
	Onnx__TensorShapeProto__Dimension *d1 = ArenaAlloc(a, sizeof(*d1));

	if (a->failed)
		return NULL;
	onnx__value_info_proto__init(vi);
	onnx__type_proto__init(tp);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sh);
	onnx__tensor_shape_proto__dimension__init(d0);
	onnx__tensor_shape_proto__dimension__init(d1);
	d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
	d0->dim_param = ArenaString(a, "N");
	dims[0] = d0;
	sh->n_dim = 1;
	if (cols >= 0)
	{
		d1->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
		d1->dim_value = cols;
		dims[1] = d1;
		sh->n_dim = 2;
	}
	sh->dim = dims;
	tt->has_elem_type = true;
	tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	tt->shape = sh;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	vi->name = ArenaString(a, name);
	vi->type = tp;
	return vi;
}

static const char *
ActivationOp(AeActivation act)
{
	switch (act)
	{
		case AE_ACT_SIGMOID:
			return "Sigmoid";
		case AE_ACT_TANH:
			return "Tanh";
		case AE_ACT_RELU:
			return "Relu";
		case AE_ACT_LEAKY_RELU:
			return "LeakyRelu";
		case AE_ACT_ELU:
			return "Elu";
		case AE_ACT_LINEAR:
			break;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the graph */

AeStatus
ae_onnx_write(const AeBundle *bundle, const char *graph_name, const char *producer_version,
			  const AeAllocator *al, uint8_t **out, size_t *out_len, char *errbuf)
{
	Arena		arena = {.al = al};
	AeModel		m;
	Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
	Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
	Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
	Onnx__OperatorSetIdProto *opsets[1] = {&opset};
	Graph		gr;
	int			d = bundle->arch.n_inputs;
	int			code = bundle->arch.code_layer;
	char		cur[32],
				next[32],
				name[32];
	size_t		size;
	uint8_t    *buf;

	*out = NULL;
	*out_len = 0;
	if (ae_model_bind(&m, &bundle->arch, bundle->params, errbuf) != AE_OK)
		return AE_ERR_CONFIG;

	gr.arena = &arena;
	gr.g = &graph;
	gr.max_nodes = 2 * m.n_layers + 8;
	gr.max_inits = m.n_layers * 2 + 4;
	gr.max_outputs = 3;
	graph.node = ArenaAlloc(&arena, gr.max_nodes * sizeof(Onnx__NodeProto *));
	graph.initializer = ArenaAlloc(&arena, gr.max_inits * sizeof(Onnx__TensorProto *));
	graph.input = ArenaAlloc(&arena, sizeof(Onnx__ValueInfoProto *));
	graph.output = ArenaAlloc(&arena, gr.max_outputs * sizeof(Onnx__ValueInfoProto *));
	graph.name = ArenaString(&arena, graph_name);
	if (arena.failed)
		goto nomem;

	graph.input[graph.n_input++] = ValueInfo(&gr, "input", d);

	/* normalisation, as ae_infer_normalize computes it */
	AddInitializer(&gr, "norm_offset", 0, d, bundle->norm_offset);
	AddInitializer(&gr, "norm_scale", 0, d, bundle->norm_scale);
	AddNode(&gr, "Sub", "normalize_sub", "centered", "input", "norm_offset", NULL);
	AddNode(&gr, "Div", "normalize_div", "normalized", "centered", "norm_scale", NULL);

	strcpy(cur, "normalized");
	for (int l = 0; l < m.n_layers; l++)
	{
		int			o = m.dims[l + 1];
		int			in = m.dims[l];
		const float *W = m.W[l];
		const char *op = ActivationOp(m.act[l]);
		char		wname[32],
					bname[32],
					zname[32];

		if (m.W_tied[l])
		{
			/* the twin's in×out matrix is stored; Gemm with transB=1 wants out×in */
			float	   *T = ArenaAlloc(&arena, (size_t) o * in * sizeof(float));

			if (T == NULL)
				goto nomem;
			for (int i = 0; i < o; i++)
				for (int j = 0; j < in; j++)
					T[(size_t) i * in + j] = m.W[l][(size_t) j * o + i];
			W = T;
		}
		snprintf(wname, sizeof(wname), "layer%d.weight", l);
		snprintf(bname, sizeof(bname), "layer%d.bias", l);
		AddInitializer(&gr, wname, o, in, W);
		AddInitializer(&gr, bname, 0, o, m.b[l]);

		/* the output of the code layer is the graph output "code" */
		if (l == m.n_layers - 1)
			strcpy(next, "reconstruction_normalized");
		else if (l == code)
			strcpy(next, "code");
		else
			snprintf(next, sizeof(next), "hidden%d", l);
		/* without an activation the Gemm writes the layer's output itself */
		if (op)
			snprintf(zname, sizeof(zname), "layer%d.linear", l);
		else
			strcpy(zname, next);
		snprintf(name, sizeof(name), "layer%d.gemm", l);
		{
			Onnx__NodeProto *n = AddNode(&gr, "Gemm", name, zname, cur, wname, bname);

			AddAttribute(&gr, n, IntAttribute(&gr, "transB", 1));
		}
		if (op)
		{
			Onnx__NodeProto *n;

			snprintf(name, sizeof(name), "layer%d.activation", l);
			n = AddNode(&gr, op, name, next, zname, NULL, NULL);
			if (m.act[l] == AE_ACT_LEAKY_RELU)
				AddAttribute(&gr, n, FloatAttribute(&gr, "alpha", AE_LEAKY_SLOPE));
			else if (m.act[l] == AE_ACT_ELU)
				AddAttribute(&gr, n, FloatAttribute(&gr, "alpha", AE_ELU_ALPHA));
		}
		strcpy(cur, next);
	}

	/* back to original units, as ae_norm_invert computes it */
	AddNode(&gr, "Mul", "denormalize_mul", "reconstruction_scaled", cur, "norm_scale", NULL);
	AddNode(&gr, "Add", "denormalize_add", "reconstruction", "reconstruction_scaled", "norm_offset", NULL);

	/* per-row mean squared error in normalised units (ae_error's default) */
	AddNode(&gr, "Sub", "error_residual", "residual", cur, "normalized", NULL);
	AddNode(&gr, "Mul", "error_square", "squared", "residual", "residual", NULL);
	{
		Onnx__NodeProto *n = AddNode(&gr, "ReduceMean", "error_mean", "error", "squared", NULL, NULL);

		AddAttribute(&gr, n, IntsAttribute(&gr, "axes", 1));
		AddAttribute(&gr, n, IntAttribute(&gr, "keepdims", 0));
	}

	graph.output[graph.n_output++] = ValueInfo(&gr, "reconstruction", d);
	graph.output[graph.n_output++] = ValueInfo(&gr, "code", m.dims[code + 1]);
	graph.output[graph.n_output++] = ValueInfo(&gr, "error", -1);
	if (arena.failed)
		goto nomem;

	opset.domain = ArenaString(&arena, "");
	opset.has_version = true;
	opset.version = AE_ONNX_OPSET;
	model.has_ir_version = true;
	model.ir_version = AE_ONNX_IR_VERSION;
	model.n_opset_import = 1;
	model.opset_import = opsets;
	model.producer_name = ArenaString(&arena, "autoenc");
	model.producer_version = ArenaString(&arena, producer_version);
	model.graph = &graph;
	if (arena.failed)
		goto nomem;

	size = onnx__model_proto__get_packed_size(&model);
	buf = ae_alloc(al, size > 0 ? size : 1);
	if (buf == NULL)
		goto nomem;
	onnx__model_proto__pack(&model, buf);
	ArenaFree(&arena);
	*out = buf;
	*out_len = size;
	return AE_OK;

nomem:
	ArenaFree(&arena);
	if (errbuf)
		snprintf(errbuf, AE_ERRBUF_SIZE, "out of memory while writing the ONNX model");
	return AE_ERR_NOMEM;
}
