/* Configuration errors: every class names file:line:column, the key path, what was
 * expected and, for unknown names, the closest valid one. Also the defensive limits
 * (aliases, size, depth, scalar length, node count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/config.h"
#include "lamarck/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses text of len bytes, expects code and every fragment in the message. */
static void check_len(const char *text, size_t len, int code, const char *const *frags) {
    lm_error_clear();
    lm_config *c = NULL;
    int rc = lm_config_parse(text, len, "f.yaml", &c);
    if (rc != code)
        fail_msg("expected code %d, got %d (%s) for:\n%.300s", code, rc, lm_error_message(), text);
    assert_null(c);
    const char *msg = lm_error_message();
    for (int i = 0; frags[i]; i++)
        if (!strstr(msg, frags[i])) fail_msg("message '%s' lacks '%s'", msg, frags[i]);
    lm_error_clear();
}

#define EXPECT(text, ...) \
    check_len((text), strlen(text), LM_ECONFIG, (const char *const[]){__VA_ARGS__, NULL})

#define DS "data: {dataset: x}\n"

static void test_malformed(void **state) {
    (void)state;
    /* An unclosed flow mapping: libyaml reports where it gave up. */
    EXPECT(DS "training: {lr: 0.1\n", "f.yaml:3:1:", "malformed YAML",
           "did not find expected ',' or '}'");
    /* A mapping value where none may start; libyaml's 0-based mark, plus one. */
    EXPECT(DS "training:\n  lr: 0.1\n   momentum: 0.9\n", "f.yaml:4:12:", "malformed YAML",
           "mapping values are not allowed");
    /* Bad indentation of a block sequence. */
    EXPECT("data:\n  dataset: x\n - a\n", "f.yaml:3:2:", "malformed YAML");
    /* Invalid UTF-8 is a reader error, located from its byte offset. */
    EXPECT(DS "experiment: {name: \xff}\n", "f.yaml:2:20:", "malformed YAML", "invalid");
    /* A NUL byte inside the text. */
    check_len(DS "a\0b", sizeof DS "a\0b" - 1, LM_ECONFIG,
              (const char *const[]){"f.yaml:2:2:", "malformed YAML", NULL});
    /* Two documents. */
    EXPECT(DS "---\n" DS, "f.yaml:2:1:", "one YAML document");
}

static void test_empty(void **state) {
    (void)state;
    EXPECT("", "f.yaml:1:1:", "empty configuration", "data: {dataset: NAME}");
    EXPECT("# only a comment\n\n", "f.yaml:1:1:", "empty configuration");
    EXPECT("---\n", "f.yaml:2:1:", "empty configuration");
    EXPECT("~\n", "f.yaml:1:1:", "empty configuration");
    EXPECT("- data\n", "f.yaml:1:1:", "expected a mapping of sections", "got a list");
    EXPECT("hello\n", "f.yaml:1:1:", "expected a mapping of sections", "got 'hello'");
}

static void test_unknown_names(void **state) {
    (void)state;
    EXPECT(DS "trainig:\n  lr: 0.1\n", "f.yaml:2:1:", "trainig:", "unknown section 'trainig'",
           "(did you mean 'training'?)", "expected one of experiment, data, training");
    EXPECT(DS "training:\n  lr: 0.1\n  momentun: 0.9\n", "f.yaml:4:3:", "training.momentun:",
           "unknown key 'momentun'", "(did you mean 'momentum'?)");
    EXPECT(DS "experiment: {nmae: a}\n", "f.yaml:2:14:", "experiment.nmae", "did you mean 'name'");
    /* A key of another section says where it belongs. */
    EXPECT(DS "training: {depth: 2}\n", "f.yaml:2:12:", "training.depth:", "belongs in model:",
           "model.depth");
    EXPECT(DS "lr: 0.1\n", "f.yaml:2:1:", "unknown section 'lr'", "belongs in training:");
    /* Nothing close: no suggestion, but the list of valid keys. */
    EXPECT(DS "search: {zzzzzzzz: 1}\n", "f.yaml:2:10:", "search.zzzzzzzz",
           "expected one of algorithm, trials");
    EXPECT(DS "search: {algorithm: randon}\n", "f.yaml:2:21:", "search.algorithm",
           "unknown algorithm 'randon'", "did you mean 'random'", "expected one of random, grid");
    /* Options are the chosen algorithm's own: random has none. */
    EXPECT(DS "search: {algorithm: random, eta: 3}\n", "f.yaml:2:29:", "search.eta",
           "unknown key 'eta'");
    EXPECT(DS "stopping: {rule: medain}\n", "f.yaml:2:18:", "stopping.rule",
           "unknown stopping rule 'medain'", "expected one of none");
    EXPECT(DS "model: {type: rnn}\n", "f.yaml:2:15:", "model.type", "rnn", "mlp, cnn");
    /* Space entries are training parameters. */
    EXPECT(DS "space:\n  lrr: {type: float, low: 0.1, high: 0.2}\n", "f.yaml:3:3:", "space.lrr:",
           "unknown training parameter 'lrr'", "(did you mean 'lr'?)", "expected one of epochs");
    EXPECT(DS "space:\n  lr: {type: float, lowe: 0.1, high: 0.2}\n", "f.yaml:3:21:",
           "space.lr.lowe:", "unknown field 'lowe'", "(did you mean 'low'?)",
           "expected one of type, low, high, log, grid, values, when");
    EXPECT(DS "space:\n  lr: {type: flaot, low: 0.1, high: 0.2}\n", "f.yaml:3:14:",
           "space.lr.type", "unknown type 'flaot'", "did you mean 'float'",
           "expected float, int or categorical");
}

static void test_wrong_types(void **state) {
    (void)state;
    EXPECT(DS "training: {lr: fast}\n", "f.yaml:2:16:", "training.lr:",
           "expected a number, got 'fast'");
    EXPECT(DS "training: {lr: [0.1]}\n", "f.yaml:2:16:", "training.lr:", "expected a number",
           "got a list");
    EXPECT(DS "training: {lr: \"0.1\"}\n", "f.yaml:2:16:", "training.lr:", "expected a number",
           "got the quoted string \"0.1\"");
    EXPECT(DS "training: {lr: }\n", "f.yaml:2:", "training.lr:", "got nothing (null)");
    EXPECT(DS "training: [1, 2]\n", "f.yaml:2:11:", "training:", "expected a mapping",
           "got a list");
    EXPECT(DS "space: 3\n", "f.yaml:2:8:", "space:", "expected a mapping", "got '3'");
    EXPECT(DS "experiment: {overwrite: 1}\n", "f.yaml:2:25:", "experiment.overwrite:",
           "expected a boolean (true/false/yes/no), got '1'");
    EXPECT(DS "training: {nesterov: maybe}\n", "f.yaml:2:22:", "training.nesterov:",
           "expected true or false");
    EXPECT(DS "training: {epochs: true}\n", "f.yaml:2:20:", "expected a number, got 'true'");
    EXPECT(DS "training: {schedule: [step]}\n", "f.yaml:2:22:", "training.schedule:",
           "got a list");
    EXPECT("data: {dataset: [a, b]}\n", "f.yaml:1:17:", "data.dataset:", "expected a string",
           "got a list");
    EXPECT("data: {dataset: ''}\n", "f.yaml:1:17:", "data.dataset:",
           "expected a non-empty string");
    EXPECT(DS "{a: 1}: 2\n", "f.yaml:2:1:", "expected a key name, got a mapping");
    EXPECT(DS "space:\n  lr: [0.1, 0.2]\n", "f.yaml:3:7:", "space.lr:",
           "expected a mapping like {type: float", "got a list");
    /* Numbers: decimal notation only, nothing after them, finite. */
    EXPECT(DS "training: {lr: 0.1x}\n", "f.yaml:2:16:", "expected a number, got '0.1x'");
    EXPECT(DS "training: {lr: 0x10}\n", "f.yaml:2:16:", "expected a number, got '0x10'");
    EXPECT(DS "training: {lr: .inf}\n", "f.yaml:2:16:", "expected a number");
    EXPECT(DS "training: {lr: 1e999}\n", "f.yaml:2:16:", "expected a finite number, got '1e999'");
    EXPECT(DS "training: {lr: 1_000}\n", "f.yaml:2:16:", "expected a number");
    EXPECT(DS "experiment: {seed: -1}\n", "f.yaml:2:20:", "experiment.seed:",
           "expected an integer in [0, 18446744073709551615], got '-1'");
    EXPECT(DS "experiment: {seed: 18446744073709551616}\n", "f.yaml:2:20:", "experiment.seed");
    EXPECT(DS "search: {trials: 2.5}\n", "f.yaml:2:18:", "search.trials:",
           "expected an integer in [0, 1000000000], got 2.5");
}

static void test_out_of_range(void **state) {
    (void)state;
    /* The range messages of lm_train_params_set, positioned. */
    EXPECT(DS "training:\n  lr: -1\n", "f.yaml:3:7:", "training.lr:",
           "'lr' must be in (0, 100], got -1");
    EXPECT(DS "training: {momentum: 1}\n", "f.yaml:2:22:", "training.momentum:",
           "'momentum' must be in [0, 1), got 1");
    EXPECT(DS "training: {epochs: 2.5}\n", "f.yaml:2:20:", "training.epochs:",
           "'epochs' must be an integer, got 2.5");
    EXPECT(DS "training: {schedule: linear}\n", "f.yaml:2:22:", "training.schedule:",
           "must be one of constant, step, cosine, got 'linear'");
    EXPECT(DS "model: {width: 0}\n", "f.yaml:2:16:", "model.width:",
           "'width' must be in [1, 65536]");
    EXPECT("data: {dataset: x, validation_fraction: 0.95}\n", "f.yaml:1:41:",
           "data.validation_fraction:", "expected a fraction in (0, 0.9], got 0.95");
    EXPECT("data: {dataset: x, validation_fraction: 0}\n", "f.yaml:1:41:", "(0, 0.9]");
    EXPECT("data: {dataset: x, train_subset: -5}\n", "f.yaml:1:34:", "data.train_subset:",
           "expected an integer in [0, ");
    EXPECT(DS "experiment: {progress_interval: 0}\n", "f.yaml:2:33:",
           "experiment.progress_interval:", "expected seconds in (0, 1e6], got 0");
    EXPECT(DS "search: {trials: -1}\n", "f.yaml:2:18:", "search.trials:", "got -1");
    /* Paths and names. */
    EXPECT(DS "experiment: {output: runs/../../etc}\n", "f.yaml:2:22:", "experiment.output:",
           "without '..' components", "runs/../../etc");
    EXPECT(DS "experiment: {output: ..}\n", "f.yaml:2:22:", "without '..'");
    EXPECT(DS "experiment: {name: a/b}\n", "f.yaml:2:20:", "experiment.name:",
           "expected letters, digits", "got 'a/b'");
    EXPECT(DS "experiment: {name: .hidden}\n", "f.yaml:2:20:", "experiment.name:");
    EXPECT("data: {dataset: ../../etc/passwd}\n", "f.yaml:1:17:", "data.dataset:",
           "without '..'");
}

/* What a searcher refuses when it is made is found while the file is read.
 * Options in conflict with each other or with the space are errors at the search
 * section. */
static void test_searcher_refusals(void **state) {
    (void)state;
    EXPECT(DS "model: {space: chain}\nsearch: {algorithm: nsga2, inheritance: lamarckian}\n",
           "f.yaml:3:1:", "search:", "needs mode: steady");
    EXPECT(DS "model: {space: cell}\nsearch: {algorithm: evolution, inheritance: lamarckian}\n",
           "f.yaml:3:1:", "search:", "needs model.space mlp or chain", "cell");
    EXPECT(DS "search: {algorithm: nsga2, objective1: none, objective2: none}\n", "f.yaml:2:1:",
           "every objective is 'none'");
    /* The same options where they fit are accepted. */
    lm_config *c = NULL;
    const char *ok = DS "model: {space: chain}\n"
                        "search: {algorithm: nsga2, mode: steady, inheritance: lamarckian}\n";
    assert_int_equal(lm_config_parse(ok, strlen(ok), "f.yaml", &c), LM_OK);
    lm_config_destroy(&c);
}

static void test_missing_and_duplicate(void **state) {
    (void)state;
    EXPECT("experiment: {name: a}\n", "f.yaml:1:1:", "data.dataset:", "required key missing",
           "data: {dataset: fashion-mnist}");
    EXPECT("experiment: {name: a}\ndata:\n  dir: d\n", "f.yaml:2:1:", "data.dataset:",
           "required key missing");
    EXPECT(DS "training:\n  lr: 0.1\n  lr: 0.2\n", "f.yaml:4:3:", "training.lr:",
           "duplicate key 'lr' (first at line 3 column 3)");
    EXPECT(DS "search: {}\n" DS, "f.yaml:3:1:", "data:", "duplicate key 'data' (first at line 1");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1, high: 0.2}\n"
              "  lr: {type: float, low: 0.1, high: 0.3}\n",
           "f.yaml:4:3:", "space.lr:", "duplicate key 'lr' (first at line 3 column 3)");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1, low: 0.2}\n", "f.yaml:3:31:",
           "space.lr.low:", "duplicate key 'low'");
    EXPECT(DS "space:\n  lr: {low: 0.1, high: 0.2}\n", "f.yaml:3:7:", "space.lr.type:",
           "required key missing: expected float, int or categorical");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1}\n", "f.yaml:3:7:", "space.lr:",
           "required key 'high' missing for type float");
    EXPECT(DS "space:\n  width: {type: categorical}\n", "f.yaml:3:10:", "space.width:",
           "required key 'values' missing");
}

static void test_space_values(void **state) {
    (void)state;
    /* Bounds are checked against the parameter, at the bound's position. */
    EXPECT(DS "space:\n  lr: {type: float, low: -1, high: 0.1}\n", "f.yaml:3:26:",
           "space.lr.low:", "'lr' must be in (0, 100], got -1");
    EXPECT(DS "space:\n  dropout: {type: float, low: 0, high: 1}\n", "f.yaml:3:40:",
           "space.dropout.high:", "'dropout' must be in [0, 1), got 1");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.3, high: 0.1}\n", "f.yaml:3:37:",
           "space.lr.high:", "expected high >= low (0.3), got 0.1");
    EXPECT(DS "space:\n  momentum: {type: float, low: 0, high: 0.9, log: true}\n",
           "f.yaml:3:32:", "space.momentum.low:", "log: true needs low > 0, got 0");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1, high: 0.2, log: 1}\n", "f.yaml:3:47:",
           "space.lr.log:", "expected a boolean");
    EXPECT(DS "space:\n  depth: {type: int, low: 1.5, high: 3}\n", "f.yaml:3:27:",
           "space.depth.low:", "expected an integer, got 1.5");
    EXPECT(DS "space:\n  depth: {type: int, low: 1, high: 99}\n", "f.yaml:3:36:",
           "space.depth.high:", "'depth' must be in [0, 64], got 99");
    /* The kind must fit the parameter. */
    EXPECT(DS "space:\n  width: {type: float, low: 16, high: 64}\n", "f.yaml:3:17:",
           "space.width.type:", "'width' takes integers: use type: int or categorical");
    EXPECT(DS "space:\n  schedule: {type: int, low: 0, high: 2}\n", "f.yaml:3:20:",
           "space.schedule.type:", "'schedule' takes labels: use type: categorical");
    EXPECT(DS "space:\n  schedule: {type: categorical, values: [constant, stepp]}\n",
           "f.yaml:3:52:", "space.schedule.values[1]:",
           "must be one of constant, step, cosine, got 'stepp'");
    EXPECT(DS "space:\n  width: {type: categorical, values: [64, wide]}\n", "f.yaml:3:43:",
           "space.width.values[1]:", "'width': expected a number, got 'wide'");
    EXPECT(DS "space:\n  width: {type: categorical, values: [64, 64]}\n", "f.yaml:3:43:",
           "space.width.values[1]:", "value '64' is listed twice");
    EXPECT(DS "space:\n  width: {type: categorical, values: []}\n", "f.yaml:3:38:",
           "space.width.values:", "expected 1 to 64 values, got 0");
    EXPECT(DS "space:\n  width: {type: categorical, values: 64}\n", "f.yaml:3:38:",
           "space.width.values:", "expected a list like [a, b, c], got '64'");
    EXPECT(DS "space:\n  width: {type: categorical, values: [[64]]}\n", "f.yaml:3:39:",
           "space.width.values[0]:", "expected a value", "got a list");
    /* Fields that belong to another type. */
    EXPECT(DS "space:\n  width: {type: categorical, values: [64], low: 1}\n", "f.yaml:3:44:",
           "space.width:", "'low' applies to float and int, not categorical");
    EXPECT(DS "space:\n  width: {type: categorical, values: [64], grid: 2}\n", "f.yaml:3:44:",
           "'grid' applies to float and int");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1, high: 0.2, values: [1]}\n", "f.yaml:3:42:",
           "space.lr:", "'values' applies to categorical only, not float");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1, high: 0.2, grid: 0}\n", "f.yaml:3:48:",
           "space.lr.grid:", "expected an integer in [1, 10000], got 0");
}

static void test_bad_when(void **state) {
    (void)state;
#define SCHED "space:\n  schedule: {type: categorical, values: [constant, step, cosine]}\n"
    EXPECT(DS SCHED "  step_size: {type: int, low: 1, high: 3, when: {schedul: step}}\n",
           "f.yaml:4:50:", "space.step_size.when:", "unknown parent 'schedul'",
           "(did you mean 'schedule'?)", "must name an earlier space entry");
    EXPECT(DS "space:\n  step_size: {type: int, low: 1, high: 3, when: {schedule: step}}\n"
              "  schedule: {type: categorical, values: [constant, step]}\n",
           "f.yaml:3:50:", "space.step_size.when:", "'schedule' must come before 'step_size'");
    EXPECT(DS SCHED "  step_size: {type: int, low: 1, high: 3, when: {schedule: [step, linear]}}\n",
           "f.yaml:4:67:", "space.step_size.when.schedule:",
           "expected one of the values of 'schedule' (constant, step, cosine), got 'linear'");
    EXPECT(DS "space:\n  lr: {type: float, low: 0.1, high: 0.2}\n"
              "  gamma: {type: float, low: 0.1, high: 0.2, when: {lr: 0.1}}\n",
           "f.yaml:4:52:", "space.gamma.when:", "'lr' is a float",
           "needs an int or categorical parent");
    EXPECT(DS "space:\n  depth: {type: int, low: 1, high: 3}\n"
              "  width: {type: int, low: 8, high: 16, when: {depth: [2, 4]}}\n",
           "f.yaml:4:58:", "space.width.when.depth:",
           "expected an integer in [1, 3] (the range of 'depth'), got '4'");
    EXPECT(DS "space:\n  depth: {type: int, low: 1, high: 3, when: {depth: 2}}\n", "f.yaml:3:46:",
           "'depth' cannot depend on itself");
    EXPECT(DS SCHED "  gamma: {type: float, low: 0.1, high: 0.2, when: schedule}\n",
           "f.yaml:4:51:", "space.gamma.when:", "expected one parent and its values",
           "got 'schedule'");
    EXPECT(DS SCHED "  depth: {type: int, low: 1, high: 3}\n"
                    "  gamma: {type: float, low: 0.1, high: 0.2,"
                    " when: {schedule: step, depth: 1}}\n",
           "f.yaml:5:51:", "space.gamma.when:", "got 2 entries");
    EXPECT(DS SCHED "  gamma: {type: float, low: 0.1, high: 0.2, when: {schedule: [{a: 1}]}}\n",
           "f.yaml:4:63:", "space.gamma.when.schedule:", "expected a value of 'schedule'",
           "got a mapping");
#undef SCHED
}

static void test_limits(void **state) {
    (void)state;
    /* Anchors and aliases are refused outright: no "billion laughs". */
    EXPECT(DS "experiment: {name: &n a, output: *n}\n", "f.yaml:2:20:", "YAML anchors (&name)",
           "not supported");
    EXPECT(DS "experiment: {name: *n}\n", "f.yaml:", "YAML");
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                         "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    EXPECT(laughs, "f.yaml:1:4:", "YAML anchors (&name) are not supported");
    EXPECT(DS "experiment: !!map {name: a}\n", "f.yaml:2:13:", "YAML tags (!tag)");
    EXPECT(DS "experiment: {name: !!str 5}\n", "f.yaml:2:20:", "YAML tags");

    /* Size: one byte over the limit is refused before any parsing. */
    size_t big = LM_CONFIG_MAX_BYTES + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, ' ', big);
    text[big] = 0;
    check_len(text, big, LM_ECONFIG,
              (const char *const[]){"f.yaml:", "1048577 bytes", "limit is 1048576", NULL});

    /* Nesting: 17 levels of lists. */
    char deep[64] = DS "x: ";
    size_t n = strlen(deep);
    for (int i = 0; i < 17; i++) deep[n++] = '[';
    for (int i = 0; i < 17; i++) deep[n++] = ']';
    deep[n] = 0;
    EXPECT(deep, "f.yaml:2:19:", "nested deeper than 16 levels");

    /* A scalar longer than 4096 bytes. */
    size_t len = strlen(DS "experiment: {name: ") + 5000;
    snprintf(text, big, DS "experiment: {name: ");
    memset(text + strlen(text), 'a', 5000);
    strcpy(text + len, "}\n");
    EXPECT(text, "f.yaml:2:20:", "value longer than 4096 bytes");

    /* More than 20000 nodes. */
    strcpy(text, DS "x: [");
    char *p = text + strlen(text);
    for (int i = 0; i < 20001; i++) p += sprintf(p, "1,");
    strcpy(p - 1, "]\n");
    EXPECT(text, "f.yaml:2:", "more than 20000 YAML nodes");
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_empty),
        cmocka_unit_test(test_unknown_names),     cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_out_of_range),      cmocka_unit_test(test_missing_and_duplicate),
        cmocka_unit_test(test_space_values),      cmocka_unit_test(test_bad_when),
        cmocka_unit_test(test_limits),            cmocka_unit_test(test_searcher_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
