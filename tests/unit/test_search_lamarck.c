/* Lamarckian evolution and NSGA-II (issue 7), the search side, driven by a fake
 * controller with one worker: after the first population every child of evolution (and
 * a share inherit_prob of NSGA-II's) is an LM_JOB_CLONE of a population member whose
 * state is kept (PAUSED), carrying a Net2Net morph that its genome matches (a wider
 * layer, or an identity dense or conv layer inserted, every layer keeping its stage),
 * trained inherit_epochs epochs; every trial is paused at its last epoch; exactly the
 * population's members stay paused, and a member that leaves (or the search's end)
 * releases its state. NSGA-II never breeds the same inheriting child of a parent twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/arch.h"
#include "lamarck/error.h"
#include "lamarck/search.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static lm_space *mlp_space(lm_arch_family f) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 1e-1, 1), LM_OK);
    lm_arch_space as;
    lm_arch_space_default(&as, f);
    if (f == LM_ARCH_CHAIN) {
        as.types = (1u << LM_ARCH_LAYER_CONV) | (1u << LM_ARCH_LAYER_DENSE);
        as.skips = LM_ARCH_SKIP_NONE;
        as.n_strides = 1;
        as.strides[0] = 1;
    }
    assert_int_equal(lm_space_add_arch(sp, &as), LM_OK);
    assert_int_equal(lm_space_arch_set_shape(sp, 1, 8, 8, 10), LM_OK);
    return sp;
}

static void set_opt_of(const char *searcher, lm_search_params *p, const char *name, double v,
                       const char *label) {
    assert_int_equal(lm_options_set(&p->options, lm_searcher_options(searcher), name, v, label),
                     LM_OK);
}

static void set_opt(lm_search_params *p, const char *name, double v, const char *label) {
    set_opt_of("evolution", p, name, v, label);
}

static void chain_of(const lm_space *sp, const double *hp, lm_arch_chain *ch) {
    int first, n;
    const lm_arch_space *as = lm_space_arch(sp, &first, &n);
    int32_t g[LM_HP_MAX];
    for (int i = 0; i < n; i++) g[i] = (int32_t)hp[first + i];
    assert_int_equal(lm_arch_chain_parse(as, g, (size_t)n, ch), LM_OK);
}

static int same_layer(const lm_arch_layer *a, const lm_arch_layer *b) {
    return a->type == b->type && a->width == b->width && a->skip == b->skip &&
           (a->type == LM_ARCH_LAYER_DENSE || (a->kernel == b->kernel && a->stride == b->stride));
}

/* The stage of layer i of a chain of `depth` layers over `stages` (stage s starts at
 * layer s * depth / stages). */
static int stage_at(int stages, int depth, int i) {
    int st = 0;
    while (st + 1 < stages && (st + 1) * depth / stages <= i) st++;
    return st;
}

/* The child's genome is its parent's with the morph applied, nothing else. */
static void check_morph(const lm_space *sp, const lm_trial *parent, const lm_trial *child) {
    lm_arch_chain a, b;
    chain_of(sp, parent->hp, &a);
    chain_of(sp, child->hp, &b);
    const lm_morph *m = &child->morph;
    assert_true(m->layer >= 0 && m->layer < a.depth);
    assert_true(child->hp[0] == parent->hp[0]); /* lr is the parent's */
    const lm_arch_space *as = lm_space_arch(sp, NULL, NULL);
    if (m->kind == LM_MORPH_WIDER || m->kind == LM_MORPH_NARROWER) {
        /* The layer's units reach one reader.
         * No skip reads its output or that of a pooling or identity between it and the
         * next layer with weights. */
        for (int j = m->layer; j < a.depth; j++) {
            if (j > m->layer && a.layer[j].type != LM_ARCH_LAYER_MAX_POOL &&
                a.layer[j].type != LM_ARCH_LAYER_AVG_POOL &&
                a.layer[j].type != LM_ARCH_LAYER_IDENTITY)
                break;
            for (int k = 0; k < a.depth; k++)
                if (a.layer[k].skip >> (j + 1) & 1u)
                    fail_msg("layer %d's units reach layer %d's skip (source %d)", m->layer, k,
                             j + 1);
        }
        assert_int_equal(b.depth, a.depth);
        assert_int_equal(m->from_width, a.layer[m->layer].width);
        assert_int_equal(m->to_width, b.layer[m->layer].width);
        if (m->kind == LM_MORPH_WIDER) {
            assert_true(m->to_width > m->from_width);
            assert_true(fabs(m->noise - 0.01) < 1e-12);
        } else {
            assert_true(m->to_width < m->from_width);
        }
        for (int i = 0; i < a.depth; i++)
            if (i != m->layer) assert_true(same_layer(&a.layer[i], &b.layer[i]));
    } else if (m->kind == LM_MORPH_REMOVE) {
        /* One layer less, the one the morph names.
         * The others keep their order and stages; no skips from it on; its output had
         * its input's channels (the stem's or the previous layer's with a width: only
         * convs and dense layers here). */
        assert_int_equal(b.depth, a.depth - 1);
        assert_true(b.depth >= as->min_depth);
        const lm_arch_layer *r = &a.layer[m->layer];
        assert_int_equal(m->type, r->type);
        assert_int_equal(m->from_width, r->width);
        assert_int_equal(m->kernel, r->kernel);
        assert_int_equal(m->stride, r->stride);
        int c_in = m->layer > 0 ? a.layer[m->layer - 1].width
                   : as->family == LM_ARCH_CHAIN ? as->stem_filters : -1;
        assert_int_equal(r->width, c_in);
        for (int i = 0; i < a.depth; i++) {
            if (i >= m->layer) assert_int_equal(a.layer[i].skip, 0);
            if (i == m->layer) continue;
            int j = i < m->layer ? i : i - 1;
            assert_true(same_layer(&a.layer[i], &b.layer[j]));
            if (as->family == LM_ARCH_CHAIN)
                assert_int_equal(stage_at(as->stages, a.depth, i),
                                 stage_at(as->stages, b.depth, j));
        }
    } else {
        assert_int_equal(m->kind, LM_MORPH_DEEPER);
        assert_int_equal(b.depth, a.depth + 1);
        const lm_arch_layer *src = &a.layer[m->layer], *id = &b.layer[m->layer + 1];
        assert_true(src->type == LM_ARCH_LAYER_DENSE || src->type == LM_ARCH_LAYER_CONV);
        assert_int_equal(src->skip, 0);
        assert_int_equal(id->type, src->type);
        assert_int_equal(id->width, src->width);
        assert_int_equal(id->skip, 0);
        if (src->type == LM_ARCH_LAYER_CONV) {
            assert_int_equal(id->kernel, src->kernel);
            assert_int_equal(id->stride, 1);
        }
        for (int i = 0; i <= m->layer; i++) assert_true(same_layer(&a.layer[i], &b.layer[i]));
        /* Later layers move up by one, with the sources their skips read.
         * Sources past the deepened layer's output (source m->layer + 1, which no skip
         * reads) move up too. */
        uint32_t low = ((uint32_t)1 << (m->layer + 1)) - 1;
        for (int i = m->layer + 1; i < a.depth; i++) {
            lm_arch_layer moved = a.layer[i];
            assert_false(moved.skip >> (m->layer + 1) & 1u);
            moved.skip = (moved.skip & low) | ((moved.skip >> (m->layer + 1)) << (m->layer + 2));
            assert_true(same_layer(&moved, &b.layer[i + 1]));
        }
        /* A template divides the depth among its stages: every layer keeps its stage,
         * and the new one is in its source's. */
        if (as->family == LM_ARCH_CHAIN)
            for (int i = 0; i < a.depth; i++) {
                int j = i <= m->layer ? i : i + 1;
                assert_int_equal(stage_at(as->stages, a.depth, i),
                                 stage_at(as->stages, b.depth, j));
            }
        if (as->family == LM_ARCH_CHAIN)
            assert_int_equal(stage_at(as->stages, a.depth, m->layer),
                             stage_at(as->stages, b.depth, m->layer + 1));
    }
}

/* The last population snapshot's members, as a mask over trial ids. */
static void population(const lm_trials *t, char *in_pop) {
    size_t first;
    int n;
    memset(in_pop, 0, (size_t)t->n);
    lm_trials_last_snapshot(t, &first, &n);
    for (int i = 0; i < n; i++) in_pop[t->pop[first + i].trial_id] = 1;
}

typedef struct run_stats {
    int clones, wider, deeper, narrower, removed, released, fresh;
} run_stats;

/* Runs the search to its end as a one-worker controller would, checking each job and
 * the kept states after each end. */
static void drive(lm_searcher *s, lm_trials *t, const lm_space *sp, int epochs, int inherit,
                  int P, run_stats *st) {
    memset(st, 0, sizeof *st);
    char in_pop[256];
    for (int step = 0; step < 1000; step++) {
        lm_job job;
        assert_int_equal(lm_searcher_next_job(s, t, &job), LM_OK);
        if (job.kind == LM_JOB_DONE) break;
        lm_trial *tr = lm_trials_get(t, job.trial_id);
        assert_non_null(tr);
        if (job.kind == LM_JOB_CLONE) {
            st->clones++;
            const lm_trial *d = lm_trials_get(t, job.donor);
            assert_non_null(d);
            /* The donor's state is kept and it is a member of the population. */
            assert_int_equal(d->status, LM_TRIAL_PAUSED);
            population(t, in_pop);
            assert_true(in_pop[job.donor]);
            assert_int_equal(job.epochs, inherit);
            assert_int_equal(tr->epochs_target, inherit);
            assert_int_equal(tr->parent[0], job.donor);
            assert_int_equal(tr->origin, LM_ORIGIN_MUTATED);
            assert_true(tr->mutated != 0);
            assert_int_equal(tr->generation, d->generation + 1);
            assert_true(strncmp(tr->reason, "inherited from trial ", 21) == 0);
            st->wider += tr->morph.kind == LM_MORPH_WIDER;
            st->deeper += tr->morph.kind == LM_MORPH_DEEPER;
            st->narrower += tr->morph.kind == LM_MORPH_NARROWER;
            st->removed += tr->morph.kind == LM_MORPH_REMOVE;
            check_morph(sp, d, tr);
        } else {
            assert_int_equal(job.kind, LM_JOB_NEW);
            assert_int_equal(job.epochs, epochs);
            assert_int_equal(tr->morph.kind, LM_MORPH_NONE);
            /* After the first population, only a child none of whose tries found a
             * parent with a morph that applies trains from scratch. */
            if (t->n > P) st->fresh++;
        }
        tr->status = LM_TRIAL_RUNNING;
        for (int e = 1; e <= job.epochs; e++) {
            /* Fitness grows with the trial id, so that aging and selection both act;
             * parameters vary, so that NSGA-II's fronts have several members. */
            lm_report r = {.trial_id = job.trial_id, .epoch = e, .val_accuracy =
                           0.5 + 0.01 * job.trial_id + 0.001 * e, .val_loss = 1, .train_loss = 1,
                           .seconds = 1, .params = 1000 + 7919 * (job.trial_id % 5)};
            assert_int_equal(lm_trials_record(t, &r, step + e * 0.1), LM_OK);
            lm_decision d = lm_searcher_on_report(s, t, &r);
            assert_int_equal(d.kind, e == job.epochs ? LM_DECIDE_PAUSE : LM_DECIDE_CONTINUE);
        }
        /* The worker keeps the state: the controller marks the trial paused. */
        tr = lm_trials_get(t, job.trial_id);
        tr->status = LM_TRIAL_PAUSED;
        lm_searcher_on_end(s, t, job.trial_id);
        /* Exactly the population's members keep their states (all released at the end). */
        population(t, in_pop);
        int paused = 0;
        for (int id = 0; id < t->n; id++) paused += t->v[id].status == LM_TRIAL_PAUSED;
        assert_true(paused <= P);
        for (int id = 0; id < t->n; id++)
            if (!in_pop[id]) assert_int_equal(t->v[id].status, LM_TRIAL_DONE);
    }
    for (int id = 0; id < t->n; id++) {
        assert_int_equal(t->v[id].status, LM_TRIAL_DONE);
        st->released++;
    }
}

/* Whether some parent had the same inheriting child twice. */
static int repeated_child(const lm_trials *t) {
    for (int a = 0; a < t->n; a++)
        for (int b = a + 1; b < t->n; b++)
            if (t->v[a].morph.kind != LM_MORPH_NONE && t->v[b].morph.kind != LM_MORPH_NONE &&
                t->v[a].parent[0] == t->v[b].parent[0] &&
                !memcmp(t->v[a].hp, t->v[b].hp, (size_t)t->n_hp * sizeof *t->v[a].hp))
                return 1;
    return 0;
}

/* Makes searcher alg with p and drives it to its end into t.
 * t is initialized here and freed by the caller; inheriting children train `inherit`
 * epochs, and the population is P. */
static void run_to_end(const char *alg, const lm_search_params *p, int inherit, int P,
                       lm_trials *t, run_stats *st) {
    lm_searcher *s;
    assert_int_equal(lm_searcher_create(alg, p, &s), LM_OK);
    assert_int_equal(lm_trials_init(t, lm_space_size(p->space)), LM_OK);
    drive(s, t, p->space, p->epochs, inherit, P, st);
    lm_searcher_destroy(&s);
}

static void print_census(const char *what, const run_stats *st) {
    print_message("%s: %d clones (%d wider, %d deeper, %d narrower, %d with a layer removed), "
                  "%d from scratch\n",
                  what, st->clones, st->wider, st->deeper, st->narrower, st->removed, st->fresh);
}

/* Lamarckian evolution over sp (population P, a snapshot after every event, children
 * trained `inherit` epochs) driven to its end into t. */
static void run_lamarck(const lm_space *sp, uint64_t seed, int trials, int epochs, int P,
                        int inherit, lm_trials *t, run_stats *st) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = trials, .epochs = epochs};
    set_opt(&p, "population", P, NULL);
    set_opt(&p, "snapshot_every", 1, NULL);
    set_opt(&p, "inheritance", 0, "lamarckian");
    set_opt(&p, "inherit_epochs", inherit, NULL);
    run_to_end("evolution", &p, inherit, P, t, st);
}

static void test_lamarck_mlp(void **state) {
    (void)state;
    lm_space *sp = mlp_space(LM_ARCH_MLP);
    lm_search_params p = {.space = sp, .seed = 7, .max_trials = 24, .epochs = 6};
    set_opt(&p, "population", 4, NULL);
    set_opt(&p, "sample_size", 2, NULL);
    set_opt(&p, "snapshot_every", 1, NULL);
    set_opt(&p, "inheritance", 0, "lamarckian");
    lm_trials t;
    run_stats st;
    run_to_end("evolution", &p, 2, 4, &t, &st); /* inherit_epochs: a third of 6 */
    assert_int_equal(t.n, 24);
    assert_int_equal(st.clones + st.fresh, 20);
    assert_true(st.clones >= 16);
    /* Both morphs are drawn (widths 32..512 and depths 1..4 leave room for both). */
    assert_true(st.wider >= 3);
    assert_true(st.deeper >= 3);
    assert_int_equal(st.released, 24);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

/* A chain of conv and dense layers: both widen and deepen. */
static void test_lamarck_chain(void **state) {
    (void)state;
    lm_space *sp = mlp_space(LM_ARCH_CHAIN);
    lm_trials t;
    run_stats st;
    run_lamarck(sp, 3, 16, 2, 3, 3, &t, &st);
    assert_int_equal(t.n, 16);
    assert_int_equal(st.clones + st.fresh, 13);
    assert_true(st.clones >= 8); /* members end up at the widest widths: then from scratch */
    assert_true(st.deeper >= 1);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

/* A template of 3 stages, conv layers of stride 1 or 2 and pools: convs deepen (with
 * stride 1) only where every layer keeps its stage, which check_morph verifies. */
static void test_lamarck_stages(void **state) {
    (void)state;
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 1e-1, 1), LM_OK);
    lm_arch_space as;
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    as.types = (1u << LM_ARCH_LAYER_CONV) | (1u << LM_ARCH_LAYER_MAX_POOL);
    as.skips = LM_ARCH_SKIP_NONE;
    as.stages = 3;
    as.min_depth = 3;
    as.max_depth = 9;
    as.n_strides = 2;
    as.strides[0] = 1;
    as.strides[1] = 2;
    assert_int_equal(lm_space_add_arch(sp, &as), LM_OK);
    assert_int_equal(lm_space_arch_set_shape(sp, 1, 16, 16, 10), LM_OK);
    lm_trials t;
    run_stats st;
    run_lamarck(sp, 11, 40, 2, 4, 1, &t, &st);
    print_message("%d clones: %d wider, %d deeper\n", st.clones, st.wider, st.deeper);
    assert_true(st.deeper >= 3);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

/* Without inheritance nothing pauses and no clone is issued. */
static void test_no_inheritance(void **state) {
    (void)state;
    lm_space *sp = mlp_space(LM_ARCH_MLP);
    lm_search_params p = {.space = sp, .seed = 7, .max_trials = 8, .epochs = 3};
    set_opt(&p, "population", 2, NULL);
    lm_searcher *s;
    assert_int_equal(lm_searcher_create("evolution", &p, &s), LM_OK);
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, lm_space_size(sp)), LM_OK);
    for (;;) {
        lm_job job;
        assert_int_equal(lm_searcher_next_job(s, &t, &job), LM_OK);
        if (job.kind == LM_JOB_DONE) break;
        assert_int_equal(job.kind, LM_JOB_NEW);
        assert_int_equal(job.epochs, 3);
        for (int e = 1; e <= 3; e++) {
            lm_report r = {.trial_id = job.trial_id, .epoch = e, .val_accuracy = 0.5,
                           .val_loss = 1, .train_loss = 1, .seconds = 1};
            assert_int_equal(lm_trials_record(&t, &r, e), LM_OK);
            assert_int_equal(lm_searcher_on_report(s, &t, &r).kind, LM_DECIDE_CONTINUE);
        }
        lm_searcher_on_end(s, &t, job.trial_id);
    }
    assert_int_equal(t.n, 8);
    lm_trials_fini(&t);
    lm_searcher_destroy(&s);
    lm_space_destroy(&sp);
}

static void test_lamarck_needs_chain_or_mlp(void **state) {
    (void)state;
    lm_space *sp = mlp_space(LM_ARCH_CELL);
    lm_search_params p = {.space = sp, .seed = 1, .max_trials = 4, .epochs = 3};
    set_opt(&p, "inheritance", 0, "lamarckian");
    lm_searcher *s = NULL;
    assert_int_equal(lm_searcher_create("evolution", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "lamarckian"));
    assert_non_null(strstr(lm_error_message(), "cell"));
    assert_null(s);
    lm_error_clear();
    lm_space_destroy(&sp);

    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 1e-1, 1), LM_OK);
    p.space = sp;
    assert_int_equal(lm_searcher_create("evolution", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "not an architecture space"));
    lm_error_clear();
    lm_space_destroy(&sp);
}

/* NSGA-II, steady mode, over conv and dense chains: a share inherit_prob of the children
 * inherits (the rest are bred by the usual operators from scratch), every one checked by
 * drive; population 4, 60 trials. */
static void nsga2_lamarck(double prob, int shrink, run_stats *st) {
    lm_space *sp = mlp_space(LM_ARCH_CHAIN);
    lm_search_params p = {.space = sp, .seed = 5, .max_trials = 60, .epochs = 3};
    set_opt_of("nsga2", &p, "population", 4, NULL);
    set_opt_of("nsga2", &p, "mode", 0, "steady");
    set_opt_of("nsga2", &p, "snapshot_every", 1, NULL);
    set_opt_of("nsga2", &p, "inheritance", 0, "lamarckian");
    set_opt_of("nsga2", &p, "inherit_prob", prob, NULL);
    set_opt_of("nsga2", &p, "inherit_shrink", 0, shrink ? "true" : "false");
    lm_trials t;
    run_to_end("nsga2", &p, 1, 4, &t, st); /* inherit_epochs: a third of 3 */
    assert_int_equal(t.n, 60);
    assert_int_equal(st->clones + st->fresh, 56);
    assert_int_equal(st->released, 60);
    assert_false(repeated_child(&t));
    char what[64];
    snprintf(what, sizeof what, "inherit_prob %.2f%s", prob, shrink ? ", shrinking" : "");
    print_census(what, st);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

static void test_nsga2_lamarck(void **state) {
    (void)state;
    run_stats st;
    /* Binomial(56, 1/2) lies in 16..40 but for a chance of 4e-4; a member at its widest
     * and deepest sends a few more to scratch. */
    nsga2_lamarck(0.5, 0, &st);
    assert_true(st.clones >= 16 && st.clones <= 40);
    assert_true(st.wider >= 1 && st.deeper >= 1);
    assert_int_equal(st.narrower + st.removed, 0);
    nsga2_lamarck(1, 0, &st);
    assert_true(st.clones >= 30);
    assert_int_equal(st.narrower + st.removed, 0);
    nsga2_lamarck(0, 0, &st);
    assert_int_equal(st.clones, 0);
}

/* With inherit_shrink the approximate morphs are drawn too.
 * check_morph checks each child: a narrower layer, or a layer removed whose input had
 * its width. */
static void test_lamarck_shrink(void **state) {
    (void)state;
    run_stats st;
    nsga2_lamarck(1, 1, &st);
    assert_true(st.clones >= 30);
    assert_true(st.narrower >= 3 && st.removed >= 3 && st.wider >= 3);
    /* Convs, pools and add skips in 2 stages, strides 1 and 2.
     * No morph widens or narrows a layer whose units a skip also reads. */
    lm_space *cs;
    assert_int_equal(lm_space_create(&cs), LM_OK);
    assert_int_equal(lm_space_add_float(cs, "lr", 1e-3, 1e-1, 1), LM_OK);
    lm_arch_space ca;
    lm_arch_space_default(&ca, LM_ARCH_CHAIN);
    ca.types = (1u << LM_ARCH_LAYER_CONV) | (1u << LM_ARCH_LAYER_MAX_POOL) |
               (1u << LM_ARCH_LAYER_IDENTITY);
    ca.skips = LM_ARCH_SKIP_ADD;
    ca.stages = 2;
    ca.max_depth = 8;
    assert_int_equal(lm_space_add_arch(cs, &ca), LM_OK);
    assert_int_equal(lm_space_arch_set_shape(cs, 1, 16, 16, 10), LM_OK);
    lm_search_params q = {.space = cs, .seed = 9, .max_trials = 200, .epochs = 3};
    set_opt_of("nsga2", &q, "population", 6, NULL);
    set_opt_of("nsga2", &q, "mode", 0, "steady");
    set_opt_of("nsga2", &q, "snapshot_every", 1, NULL);
    set_opt_of("nsga2", &q, "inheritance", 0, "lamarckian");
    set_opt_of("nsga2", &q, "inherit_prob", 1, NULL);
    set_opt_of("nsga2", &q, "inherit_shrink", 0, "true");
    lm_trials ct;
    run_to_end("nsga2", &q, 1, 6, &ct, &st);
    print_census("skips and strides", &st);
    assert_true(st.wider + st.narrower >= 10);
    lm_trials_fini(&ct);
    lm_space_destroy(&cs);

    /* Evolution over MLPs: dense layers removed after one of the same width. */
    lm_space *sp = mlp_space(LM_ARCH_MLP);
    lm_search_params p = {.space = sp, .seed = 7, .max_trials = 40, .epochs = 3};
    set_opt(&p, "population", 4, NULL);
    set_opt(&p, "snapshot_every", 1, NULL);
    set_opt(&p, "inheritance", 0, "lamarckian");
    set_opt(&p, "inherit_shrink", 0, "true");
    lm_trials t;
    run_to_end("evolution", &p, 1, 4, &t, &st);
    print_census("evolution, shrinking", &st);
    assert_true(st.narrower >= 3 && st.removed >= 1);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

/* Inheritance keeps parents while they are members: NSGA-II's generational mode, which
 * replaces the population at once, refuses it. */
static void test_nsga2_lamarck_needs_steady(void **state) {
    (void)state;
    lm_space *sp = mlp_space(LM_ARCH_CHAIN);
    lm_search_params p = {.space = sp, .seed = 1, .max_trials = 8, .epochs = 3};
    set_opt_of("nsga2", &p, "inheritance", 0, "lamarckian");
    lm_searcher *s = NULL;
    assert_int_equal(lm_searcher_create("nsga2", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "mode: steady"));
    assert_null(s);
    lm_error_clear();
    lm_space_destroy(&sp);
    sp = mlp_space(LM_ARCH_CELL);
    p.space = sp;
    set_opt_of("nsga2", &p, "mode", 0, "steady");
    assert_int_equal(lm_searcher_create("nsga2", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "nsga2: inheritance: lamarckian needs"));
    lm_error_clear();
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nsga2_lamarck),
        cmocka_unit_test(test_lamarck_shrink),
        cmocka_unit_test(test_nsga2_lamarck_needs_steady),
        cmocka_unit_test(test_lamarck_mlp),
        cmocka_unit_test(test_lamarck_chain),
        cmocka_unit_test(test_lamarck_stages),
        cmocka_unit_test(test_no_inheritance),
        cmocka_unit_test(test_lamarck_needs_chain_or_mlp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
