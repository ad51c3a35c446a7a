"""Draw figures/attack_triggers.png: a real CIFAR-10 test image, poisoned by every registered attack, and the
difference. The learned attacks derive their trigger from the cpu-scale clean surrogate of the zoo (PreAct-ResNet18,
width 16, cpu recipe, 12 epochs, seed 0), which must already be cached: this script refuses to train it.

    python tools/trigger_figure.py"""
from backdoorpure.attacks import ATTACKS, create_attack, show_triggers
from backdoorpure.core import config_key
from backdoorpure.data import load_dataset
from backdoorpure.zoo import cached_model, zoo_config, zoo_dir

def main():
    cfg = zoo_config('cifar10', 'preact-resnet18', None, 0.0, 0, 'cpu', width=16, train_overrides=dict(epochs=12))
    if not (zoo_dir()/config_key(cfg)/'entry.json').exists():
        raise SystemExit(f"The cpu-scale surrogate {config_key(cfg)} is not in the zoo yet; train it first, e.g. with the LC row of "
                         "nbs/20_no_defense.ipynb at the cpu scale.")
    surrogate, _ = cached_model(cfg)
    data = load_dataset('cifar10')
    attacks = [create_attack(n, data.info) for n in ATTACKS.names()]
    for a in attacks:
        if a.needs_model: a.prepare(data.train, surrogate, seed=0)
    show_triggers(data.test.x[3:4], data.info, attacks, path='figures/attack_triggers.png')
    print(f"figures/attack_triggers.png: {len(attacks)} attacks, surrogate {config_key(cfg)}")

if __name__ == '__main__': main()
