"""Our engine hooks, in-process: BatchSourcesHook names where a bad batch came from."""


def test_batch_element_is_named_when_samples_have_no_path():
    from mmfastervit.engine import BatchSourcesHook

    hook = BatchSourcesHook()
    assert hook.where([1], 2) == ''
    hook.before_test_iter(None, 4, dict(data_samples=[dict(img_path='a.jpg'),
                                                      dict(img_path='b.jpg')]))
    assert hook.where([1], 2) == 'b.jpg (test iteration 5, batch element 1 of 2)'
    hook.before_val_iter(None, 0, dict(data_samples=[dict(), dict()]))
    assert hook.where([0], 2) == 'batch element(s) [0] of 2 in val iteration 1'
