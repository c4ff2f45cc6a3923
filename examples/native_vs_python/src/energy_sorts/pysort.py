"""Heap sort and selection sort in pure Python: the reference side of the comparison.

Each sorts a list in place and returns it, like the C versions in ``_csort.c``.
"""


def _sift_down(a: list[int], root: int, end: int) -> None:
    while 2 * root + 1 <= end:
        child = 2 * root + 1
        swap = root
        if a[swap] < a[child]:
            swap = child
        if child + 1 <= end and a[swap] < a[child + 1]:
            swap = child + 1
        if swap == root:
            return
        a[root], a[swap] = a[swap], a[root]
        root = swap


def heap_sort(a: list[int]) -> list[int]:
    n = len(a)
    for start in range((n - 2) // 2, -1, -1):
        _sift_down(a, start, n - 1)
    for end in range(n - 1, 0, -1):
        a[end], a[0] = a[0], a[end]
        _sift_down(a, 0, end - 1)
    return a


def selection_sort(a: list[int]) -> list[int]:
    n = len(a)
    for i in range(n - 1):
        smallest = i
        for j in range(i + 1, n):
            if a[j] < a[smallest]:
                smallest = j
        a[i], a[smallest] = a[smallest], a[i]
    return a
