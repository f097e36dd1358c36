"""deepearth-train's flags come from TrainConfig, ModelSpec is built by name, and names are imported from their homes."""

from dataclasses import MISSING, fields, make_dataclass

import pytest

from deepearth_training import bench_paths, benchmark, loader, train
from deepearth_training.cli import fraction
from deepearth_training.models import GeoClassifier
from deepearth_training.registry import REGISTRY, ModelSpec, classification_loss
from deepearth_training.train import TrainConfig, setting
from deepearth_training.train_command import _parser, _train_parser

FLAGS = (
    '--store --split --mode --out --epochs --batch-size --lr --weight-decay --grad-accum --clip-grad --seed --device '
    '--no-amp --full-vision --num-workers --threads --hidden-dim --fusion-dim --eval-batch-size --save-every '
    '--val-fraction --resume --no-progress --cv'
).split()


def test_every_flag_of_before_is_still_there():
    known = {s for a in _parser()._actions for s in a.option_strings}
    assert set(FLAGS) <= known, set(FLAGS) - known


def test_flag_defaults_are_the_dataclass_defaults():
    parsed = vars(_train_parser().parse_args(['--store', 's']))
    given = [f for f in fields(TrainConfig) if f.default is not MISSING]
    assert {f.name: parsed[f.name] for f in given} == {f.name: f.default for f in given}


@pytest.mark.parametrize(
    'argv,field,value',
    [
        (['--no-amp'], 'amp', False),
        (['--amp'], 'amp', True),
        (['--full-vision'], 'full_vision', True),
        (['--no-progress'], 'progress', False),
        (['--batch-size', '8'], 'batch_size', 8),
        (['--val-fraction', '0'], 'val_fraction', 0.0),
        (['--mode', 'geo'], 'mode', 'geo'),
    ],
)
def test_flags_set_their_fields(argv, field, value):
    assert getattr(_train_parser().parse_args(['--store', 's', *argv]), field) == value


def test_a_new_field_is_a_flag_with_no_other_edit():
    wider = make_dataclass('Wider', [('dropout', float, setting(0.0, 'dropout rate', fraction))], bases=(TrainConfig,))
    p = _train_parser(wider)
    assert (
        p.parse_args(['--store', 's']).dropout == 0.0
        and p.parse_args(['--store', 's', '--dropout', '0.5']).dropout == 0.5
    )
    with pytest.raises(SystemExit):
        p.parse_args(['--store', 's', '--dropout', '2'])  # checked where it is parsed


def test_model_spec_fields_are_named():
    with pytest.raises(TypeError):
        ModelSpec(GeoClassifier, ('coords',), False, False, False, classification_loss, dict)
    assert REGISTRY['geo'].include_vision is False and REGISTRY['vision'].pooled is True


def test_names_live_in_their_homes_only():
    assert not hasattr(benchmark, 'hf_available') and hasattr(bench_paths, 'hf_available')
    assert not hasattr(train, 'load_model') and not hasattr(loader, 'UNKNOWN_TIME')
