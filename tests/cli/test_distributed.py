"""The CPU launcher's Slurm rendezvous (mmfastervit/cli/distributed.py): torch's
variables from a task's Slurm variables, and the errors when they are missing."""
import os

import pytest

from mmfastervit.cli.distributed import first_node, slurm_environment
from mmfastervit.errors import ConfigError


def test_slurm_variables_become_torch_ones(monkeypatch):
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.setenv(key, '')  # recorded, so that teardown restores the real state
        monkeypatch.delenv(key)
    monkeypatch.setenv('SLURM_PROCID', '5')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node7')
    slurm_environment()
    assert [os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                                    'MASTER_PORT')] == ['5', '8', '1', 'node7', '29500']
    monkeypatch.setenv('MASTER_ADDR', '10.0.0.1')  # set by the job script: kept
    monkeypatch.setenv('MASTER_PORT', '1234')
    slurm_environment()
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == ('10.0.0.1', '1234')


def test_missing_slurm_variables_name_srun(monkeypatch):
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    monkeypatch.setenv('SLURM_NTASKS', '2')
    monkeypatch.setenv('SLURM_NODELIST', 'node7')
    with pytest.raises(ConfigError, match='SLURM_PROCID is not set: start the tool with srun'):
        slurm_environment()


def test_node_list_without_scontrol(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))  # no scontrol
    assert first_node('gpu03') == 'gpu03'
    with pytest.raises(ConfigError, match='set MASTER_ADDR'):
        first_node('gpu[03-04]')
