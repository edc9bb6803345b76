"""Accuracy against shots: per dataset (ours with std error bars, the
paper's curve dashed, zero-shot as horizontal lines), and per method."""
from ..experiments import METHODS, REPORTED
from .tables import (AVERAGE, MEASURED, REPORTED_LABEL, FewShotTable,
                     MethodsTable, display_name)

LEGEND_ORDER = (MEASURED, REPORTED_LABEL, f'zero-shot, {MEASURED}',
                f'zero-shot, {REPORTED_LABEL}')


def plot_few_shot(table: FewShotTable, path: str) -> bool:
    """Accuracy vs shots, one panel per dataset (plus the average when it
    exists for some shot count). Returns ``False`` when there is nothing to
    plot."""
    panels = [d for d in table.datasets
              if any(k and (d, k) in table.stats for k in table.shots)]
    if len(table.datasets) > 1 and any(
            table.measured(AVERAGE, k) is not None for k in table.shots if k):
        panels.append(AVERAGE)
    if not panels:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows + 0.6),
        squeeze=False, layout='constrained')
    for ax in axes.flat[len(panels):]:
        ax.axis('off')
    for ax, dataset in zip(axes.flat, panels):
        shots = [k for k in table.shots
                 if k and table.measured(dataset, k) is not None]
        stats = [table.measured(dataset, k) for k in shots]
        ax.errorbar(shots, [s.mean for s in stats],
                    yerr=[s.std for s in stats], fmt='o-', capsize=3,
                    color='tab:blue', label=MEASURED)
        paper = [(k, table.reported(dataset, k)) for k in REPORTED if k]
        paper = [(k, v) for k, v in paper if v is not None]
        if paper:
            ax.plot(*zip(*paper), 's--', color='tab:orange',
                    label=REPORTED_LABEL)
        zero = table.measured(dataset, 0)
        if zero is not None:
            ax.axhline(zero.mean, color='tab:blue', linestyle=':',
                       label=f'zero-shot, {MEASURED}')
        zero_paper = table.reported(dataset, 0)
        if zero_paper is not None:
            ax.axhline(zero_paper, color='tab:orange', linestyle=':',
                       label=f'zero-shot, {REPORTED_LABEL}')
        ticks = sorted(set(shots) | {k for k, _ in paper})
        ax.set_xscale('log', base=2)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(k) for k in ticks])
        ax.set_title('Average' if dataset == AVERAGE else
                     display_name(dataset))
        ax.set_xlabel('shots per class')
        ax.set_ylabel('top-1 accuracy (%)')
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes.flat:
        handles.update(zip(*ax.get_legend_handles_labels()[::-1]))
    labels = [label for label in LEGEND_ORDER if label in handles]
    # One legend column per panel column keeps it within the figure.
    fig.legend([handles[label] for label in labels], labels,
               loc='outside lower center', ncol=min(ncols, len(labels)))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_methods(table: MethodsTable, path: str) -> bool:
    """Accuracy vs shots, one panel per method with few-shot runs, one line
    per dataset (and the average), zero-shot CLIP dotted. Returns ``False``
    when there is nothing to plot."""
    panels = [m for m in table.methods if m != 'zero_shot']
    if not panels:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols,
                                                    3.0 * nrows + 0.6),
                             squeeze=False, layout='constrained')
    for ax in axes.flat[len(panels):]:
        ax.axis('off')
    colours = dict(zip(table.columns, plt.rcParams[
        'axes.prop_cycle'].by_key()['color'] * 4))
    for ax, method in zip(axes.flat, panels):
        for dataset in table.columns:
            shots = sorted(k for m, k in table.rows() if m == method
                           and table.measured(m, dataset, k) is not None)
            if not shots:
                continue
            stats = [table.measured(method, dataset, k) for k in shots]
            name = 'Average' if dataset == AVERAGE else display_name(dataset)
            ax.errorbar(shots, [s.mean for s in stats],
                        yerr=[s.std for s in stats], fmt='o-', capsize=3,
                        color=colours[dataset], label=name)
            zero = table.measured('zero_shot', dataset, 0)
            if zero is not None:
                ax.axhline(zero.mean, color=colours[dataset], linestyle=':')
        ax.set_xscale('log', base=2)
        ticks = sorted({k for m, k in table.rows() if m == method})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(k) for k in ticks])
        ax.set_title(METHODS[method].label)
        ax.set_xlabel('shots per class')
        ax.set_ylabel('top-1 accuracy (%)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize='small')
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
