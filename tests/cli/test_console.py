"""The console of our tools in-process (mmfastervit.cli.console): short
metric rows, long tables and the config dump go to the log file."""


def test_segmentation_metrics_and_per_class_tables_stay_short(tmp_path):
    """mmseg's metrics make one row; its per-class table stays on the
    console while short and goes to the log file when long (ADE20K: 150)."""
    import logging

    from mmengine.logging import MMLogger

    from mmfastervit.cli.console import summarise_console
    from mmfastervit.engine.hooks import format_metrics

    table = format_metrics({'aAcc': 85.99, 'mIoU': 80.3, 'mAcc': 88.37}).splitlines()
    assert table[0].split() == ['aAcc', 'mIoU', 'mAcc'] and table[1].split() == [
        '85.990', '80.300', '88.370']
    logger = MMLogger.get_instance('console_test', log_file=str(tmp_path / 'run.log'))
    console = next(h for h in logger.handlers if type(h) is logging.StreamHandler)
    shown = []
    console.emit = lambda record: shown.append(record.getMessage())
    summarise_console(logger)
    for classes in (5, 150):
        rows = ''.join(f'| class{i} | 1.0 | 2.0 |\n' for i in range(classes))
        logger.info('per class results:')
        logger.info(f'\n+---+\n|  Class  | IoU | Acc |\n+---+\n{rows}+---+')
    logger.info('Config:\n' + 'x = 1\n' * 600)
    for name in ('backbone.stem.weight', 'backbone.norm0.weight'):  # mmengine's optimizer
        logger.info(f'paramwise_options -- {name}:lr=1e-05')
    assert shown[0].startswith('per-class results:\n+---+') and shown[0].count('| class') == 5
    assert shown[1] == f'per-class results (150 classes): in {tmp_path / "run.log"}'
    assert shown[2] == f'config: full text in {tmp_path / "run.log"}'
    assert shown[3] == f'parameter-wise lr / weight decay: in {tmp_path / "run.log"}'
    assert len(shown) == 4
    logger.handlers[-1].flush()
    written = (tmp_path / 'run.log').read_text()
    assert 'class149' in written and written.count('x = 1') == 600
    assert written.count('paramwise_options -- ') == 2
