/* Heap sort and selection sort over a list of ints, in C: the native side of the
 * energy comparison. Each function sorts the list in place and returns it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

static long *list_to_array(PyObject *list, Py_ssize_t *n) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of ints");
        return NULL;
    }
    *n = PyList_GET_SIZE(list);
    long *values = malloc(sizeof(long) * (*n > 0 ? *n : 1));
    if (values == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        values[i] = PyLong_AsLong(PyList_GET_ITEM(list, i));
        if (values[i] == -1 && PyErr_Occurred()) {
            free(values);
            return NULL;
        }
    }
    return values;
}

static PyObject *array_into_list(PyObject *list, long *values, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyLong_FromLong(values[i]);
        if (item == NULL) {
            free(values);
            return NULL;
        }
        PyList_SetItem(list, i, item); /* steals the reference, releases the old item */
    }
    free(values);
    Py_INCREF(list);
    return list;
}

static void sift_down(long *a, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t root = start;
    while (2 * root + 1 <= end) {
        Py_ssize_t child = 2 * root + 1, swap = root;
        if (a[swap] < a[child]) swap = child;
        if (child + 1 <= end && a[swap] < a[child + 1]) swap = child + 1;
        if (swap == root) return;
        long tmp = a[root]; a[root] = a[swap]; a[swap] = tmp;
        root = swap;
    }
}

static PyObject *heap_sort(PyObject *self, PyObject *list) {
    Py_ssize_t n;
    long *a = list_to_array(list, &n);
    if (a == NULL) return NULL;
    for (Py_ssize_t start = (n - 2) / 2; start >= 0; start--) sift_down(a, start, n - 1);
    for (Py_ssize_t end = n - 1; end > 0; end--) {
        long tmp = a[end]; a[end] = a[0]; a[0] = tmp;
        sift_down(a, 0, end - 1);
    }
    return array_into_list(list, a, n);
}

static PyObject *selection_sort(PyObject *self, PyObject *list) {
    Py_ssize_t n;
    long *a = list_to_array(list, &n);
    if (a == NULL) return NULL;
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        Py_ssize_t smallest = i;
        for (Py_ssize_t j = i + 1; j < n; j++)
            if (a[j] < a[smallest]) smallest = j;
        long tmp = a[i]; a[i] = a[smallest]; a[smallest] = tmp;
    }
    return array_into_list(list, a, n);
}

static PyMethodDef methods[] = {
    {"heap_sort", heap_sort, METH_O, "Sort a list of ints in place with heap sort; returns it."},
    {"selection_sort", selection_sort, METH_O, "Sort a list of ints in place with selection sort; returns it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_csort", "Sorts in C.", -1, methods};

PyMODINIT_FUNC PyInit__csort(void) { return PyModule_Create(&module); }
