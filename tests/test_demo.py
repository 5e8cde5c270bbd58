"""`bno-demo` end to end on a few bundled samples with a tiny budget; the report opened in Chromium.

Also the parts on their own: the progress display (a real subprocess on a forced terminal and on
a plain stream), the estimate of the time left, the sentence read off the metrics, the slider
labels and the quick budget's plan.
"""

import io
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from bno.pipelines.cli.demo import main as demo
from bno.pipelines.demo.progress import Clock, LiveDisplay, PlainDisplay, run_command
from bno.pipelines.demo.story import MODEL_NAMES, reading, slider_label, training_figure, write_report
from bno.pipelines.demo.workflow import BUDGETS, Run, plan_steps
from bno.pipelines.evaluate.evaluation import DIFF_GAIN

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
#: Four train scenes and two test scenes (ids ≥ a4501) keep the run to a few minutes: FiveK's awkward
#: names (a date with spaces, " (original)") and portraits stored sideways (Orientation 6 and 8) among them.
SCENES = ["a0028-_DSC5482", "a1973-IMG_4488", "a1993-2004-05-16 14-15-42 CRW_9436", "a2650-CRW_8155 (original)",
          "a4784-IMG_2775", "a4899-IMG_5375"]
TINY = [f"{stage}.{key}={value}" for stage in ("stage1", "stage2") for key, value in (("epochs", 1), ("steps_per_epoch", 2), ("batch_size", 2))]
TINY += ["stage2.val_from_train=1"]  # 6 samples leave 4 training pairs
#: A slider label as the report prints it: a typographic minus, a plus sign, units.
LABEL = re.compile(r"^(?:(?:Blacks|Vibrance) (?:0|[+−][1-9]\d*)|Exposure (?:0\.0|[+−]\d\.\d{1,2}) EV|Temperature [1-9]\d{3,4} K)$")


@dataclass
class DemoRun:
    out: Path
    raws: Path
    targets: Path
    stderr: str


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    for binary in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(binary).exists():
            pytest.skip(f"{binary} is not installed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> DemoRun:
    work = tmp_path_factory.mktemp("demo")
    (work / "raws").mkdir()
    (work / "expert").mkdir()
    for scene in SCENES:
        shutil.copy(SAMPLES / "raws" / f"{scene}.dng", work / "raws")
        shutil.copy(SAMPLES / "expert" / f"{scene}.jpg", work / "expert")
    args = ["--out", str(work / "out"), "--raws", str(work / "raws"), "--targets", str(work / "expert")]
    result = CliRunner().invoke(demo, args + [item for value in TINY for item in ("--set", value)])
    log = work / "out" / "demo.log"
    assert result.exit_code == 0, result.output + (log.read_text(errors="replace") if log.exists() else "")
    return DemoRun(work / "out", work / "raws", work / "expert", result.stderr)


@pytest.fixture(scope="module")
def page(run):
    """The report in headless Chromium (closed after the module's tests)."""
    browser = _browser()
    browser.get((run.out / "report.html").as_uri())
    yield browser
    browser.quit()


@pytest.mark.timeout(600)
def test_demo_writes_outputs(run):
    assert (run.out / "report.html").stat().st_size > 10_000
    for scene in SCENES[4:]:  # the test scenes were enhanced, with a sidecar from BNO
        assert (run.out / "enhanced" / "bno" / f"{scene}.xmp").exists()
        assert (run.out / "enhanced" / "neurop" / f"{scene}.tif").exists()
    html = (run.out / "report.html").read_text()
    for section in ("Result", "Every test raw", "Slider read-outs", "Training", "Operator data", "Steps and timings"):
        assert section in html
    assert "src=\"http" not in html and "src=\"file" not in html  # self-contained
    assert "quick mode" not in html  # the full budget says nothing of the quick mode
    log = (run.out / "demo.log").read_text(errors="replace")
    assert "$ bno-train stage1" in log and "stage1 done in" in log  # the steps' whole output went to the log


def test_plain_progress_is_one_line_per_step(run):
    lines = [line for line in run.stderr.splitlines() if line.startswith("step ")]
    numbers = [re.match(r"step (\d+)/(\d+) ", line).groups() for line in lines]
    total = int(numbers[0][1])
    assert [int(k) for k, _ in numbers] == list(range(1, total + 1)) and {n for _, n in numbers} == {str(total)}
    assert total == 14  # 13 commands and the report
    assert "step 1/14 generate · 0:00 elapsed, about " in lines[0] and "$ bno-synth generate" in lines[0]
    assert "step 5/14 bno stage 1" in run.stderr and "$ bno-train stage1" in run.stderr
    assert run.stderr.splitlines()[-1].startswith("14 steps done in ")
    assert "\r" not in run.stderr and "\x1b[" not in run.stderr  # nothing redrawn on a non-terminal


@pytest.mark.timeout(600)
def test_every_image_loads_in_chromium(page):
    states = page.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    assert len(states) >= 4 * 4 * 7 + 2 + 4  # contact-sheet tiles, training figures, before/after panels
    broken = [alt for complete, width, alt in states if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"


def test_the_result_comes_first_and_the_timings_last(page):
    headings = page.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.id)")
    assert headings[0] == "result" and headings[-1] == "timings"
    # within the result: the reading, the metrics table, then a before/after of a test image
    order = page.execute_script(
        "const ids = ['result', 'reading', 'metrics', 'before-after', 'test-raws'];"
        "const nodes = ids.map(i => document.getElementById(i));"
        "return nodes.slice(1).map((n, k) => !!(nodes[k].compareDocumentPosition(n) & Node.DOCUMENT_POSITION_FOLLOWING));"
    )
    assert order == [True] * 4
    labels = page.execute_script("return Array.from(document.querySelectorAll('#before-after figcaption')).map(f => f.textContent)")
    assert labels == ["as shot (input)", "NeurOp", "BNO", "target (expert)"]


def test_the_reading_matches_the_metrics(run, page):
    summaries = {name: json.loads((run.out / "eval" / f"{name}.json").read_text()) for name in ("identity", "neurop", "bno")}
    sentence = page.find_element("id", "reading").text
    assert sentence.startswith(f"On the {summaries['identity']['images']} test images, ")
    for key, label, higher in (("psnr", "PSNR", True), ("delta_e76", "ΔE76", False)):
        values = {name: summary[key] for name, summary in summaries.items()}
        best = (max if higher else min)(values, key=values.get)
        base = values["identity"]
        if best == "identity" or f"{values[best]:.2f}" == f"{base:.2f}":
            assert f"neither model improves on the identity's {label} of {base:.2f}" in sentence
        else:
            gap = abs(values[best] - base)
            assert f"best on {label} with {values[best]:.2f}" in sentence and f"{gap:.2f}" in sentence
            assert MODEL_NAMES[best] in sentence
    cells = page.execute_script("return Array.from(document.querySelectorAll('#metrics tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))")
    assert [row[1] for row in cells] == [f"{summaries[name]['psnr']:.2f}" for name in ("identity", "neurop", "bno")]


def test_labels_are_formatted(run, page):
    tiles = page.execute_script("return Array.from(document.querySelectorAll('table.grid figcaption')).map(f => f.textContent)")
    assert len(tiles) == 4 * 4 * 7
    assert [label for label in tiles if not LABEL.match(label)] == []
    assert {label.split()[0] for label in tiles} == {"Blacks", "Exposure", "Temperature", "Vibrance"}
    assert "Exposure −2.0 EV" in tiles and "Blacks −100" in tiles and "Vibrance +100" in tiles
    text = page.find_element("tag name", "body").text
    assert "slider" not in re.sub(r"Slider read-outs|Lightroom sliders|slider meaning", "", text)  # no "L0: -100 slider"
    strips = page.execute_script("return Array.from(document.querySelectorAll('#strips ~ figure figcaption')).map(f => f.textContent)")
    assert strips and all(caption.endswith(f"|output − target| × {DIFF_GAIN:g}") for caption in strips)
    for stage in (1, 2):
        records = {m: [json.loads(x) for x in (run.out / "runs" / f"{m}-s{stage}" / "metrics.jsonl").read_text().splitlines() if x.strip()]
                   for m in ("bno", "neurop")}
        figure = training_figure(records, stage)
        for ax in figure.axes:
            low, high = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if low <= t <= high]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_the_quick_report_says_so(run, tmp_path):
    steps = plan_steps(run.out, run.raws, run.targets, BUDGETS["quick"])
    path = write_report(Run(run.out, run.raws, run.targets, BUDGETS["quick"], steps), tmp_path / "quick.html")
    html = path.read_text()
    assert html.index("quick mode (--quick)") < html.index('id="result"')
    assert "Camera raws (" in html and "each made from a different real photograph" not in html  # copies, not the bundled samples
    bundled = write_report(Run(run.out, SAMPLES / "raws", SAMPLES / "expert", BUDGETS["full"], steps), tmp_path / "bundled.html").read_text()
    assert "each made from a different real photograph" in bundled


def test_quick_and_full_plans(tmp_path):
    raws, targets = SAMPLES / "raws", SAMPLES / "expert"
    full = {step.name: step for step in plan_steps(tmp_path, raws, targets, BUDGETS["full"])}
    quick = {step.name: step for step in plan_steps(tmp_path, raws, targets, BUDGETS["quick"])}
    assert list(full) == list(quick) and len(full) == 13
    assert "--levels" not in full["generate"].resolve() and quick["generate"].resolve()[-2:] == ["--levels", "11"]
    assert full["bno stage 1"].resolve()[-1].endswith("configs/demo.yaml")  # the default run is unchanged
    assert full["neurop stage 2"].resolve()[-1].endswith("configs/demo-neurop.yaml")
    assert quick["neurop stage 2"].resolve()[-1].endswith("configs/demo-quick-neurop.yaml")
    assert sum(s.expected for s in quick.values()) < sum(s.expected for s in full.values()) / 2


def test_bad_set_fails_before_any_step(tmp_path):
    result = CliRunner().invoke(demo, ["--out", str(tmp_path / "demo"), "--set", "stage1.epochz=1"])
    assert result.exit_code == 2 and result.output.startswith("error:") and "epochz" in result.output
    assert not (tmp_path / "demo").exists()


def test_a_missing_recipe_is_a_one_line_error(tmp_path, monkeypatch):
    import bno.pipelines.demo.workflow

    monkeypatch.setattr(bno.pipelines.demo.workflow, "_CONFIGS", tmp_path / "configs")
    result = CliRunner().invoke(demo, ["--out", str(tmp_path / "demo")])
    assert result.exit_code == 2 and result.output.startswith("error:") and "demo.yaml not found" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()  # nothing written


# --------------------------------------------------------------------------- the parts on their own

#: A command that draws a tqdm-style bar with carriage returns, then prints a summary line.
CHILD = ("import sys, time\n"
         "for i in range(5):\n"
         "    sys.stderr.write(f'\\rstage1 epoch 1/1: {i * 25:3d}%|##| {i}/4'); sys.stderr.flush(); time.sleep(0.3)\n"
         "print('\\nstage1 done in 1 s')\n")


def test_live_display_redraws_the_step_and_its_last_line(tmp_path):
    screen = io.StringIO()
    display = LiveDisplay(Clock([1.0, 1.0]), Console(file=screen, force_terminal=True, width=120))
    with open(tmp_path / "log", "wb") as log:
        display.begin(0, "train", "python -c …")
        status, tail = run_command([sys.executable, "-c", CHILD], log, display.tick)
        display.end(0, "train", 1.5, status == 0)
    display.close(True)
    assert status == 0 and tail.last_line == "stage1 done in 1 s" and tail.fraction == 1.0
    raw = screen.getvalue()
    shown = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", raw)
    assert "\x1b[" in raw  # drawn with terminal codes, in place
    assert "step 1/2 train" in shown and "elapsed" in shown and "left" in shown
    assert "stage1 epoch 1/1:" in shown  # the child's own bar, shown while it ran
    assert "✓ step 1/2 train" in shown and "2 steps done in" in shown
    logged = (tmp_path / "log").read_bytes()
    assert b"\rstage1 epoch 1/1:  75%" in logged and b"stage1 done in 1 s" in logged  # every byte logged


def test_plain_display_heartbeat_and_failure(tmp_path):
    screen = io.StringIO()
    display = PlainDisplay(Clock([1.0]), screen, interval=0.2)
    with open(tmp_path / "log", "wb") as log:
        display.begin(0, "train", "python -c …")
        status, _ = run_command([sys.executable, "-c", CHILD + "sys.exit(3)"], log, display.tick)
        display.end(0, "train", 1.5, status == 0)
    display.close(status == 0)
    lines = screen.getvalue().splitlines()
    assert status == 3 and lines[0].startswith("step 1/1 train · 0:00 elapsed, about ")
    assert any(line.startswith("  step 1/1 train: ") and "stage1 epoch 1/1" in line for line in lines[1:-1])
    assert lines[-1] == "step 1/1 train failed after 0:02" and "steps done" not in screen.getvalue()


def test_the_time_left_follows_the_pace():
    clock = Clock([10.0, 30.0])
    assert clock.remaining() == pytest.approx(40.0, abs=0.1)  # nothing measured: the expected seconds
    clock.begin(1)
    clock.started = time.perf_counter() - 20.0  # the first step (10 s expected) took 20 s
    assert clock.remaining() == pytest.approx(30.0 * (20 + 30) / (10 + 30), rel=0.01)
    clock.fraction = 0.5
    assert clock.remaining() == pytest.approx(15.0 * (20 + 30) / (25 + 30), rel=0.01)


def test_reading_names_the_best_model_or_the_identity():
    same = {"identity": {"psnr": 20.0, "delta_e76": 9.0, "images": 1}, "neurop": {"psnr": 19.0, "delta_e76": 9.5}, "bno": {"psnr": 20.001, "delta_e76": 8.5}}
    text = reading(same)
    assert text.startswith("On the 1 test image, neither model improves on the identity's PSNR of 20.00 dB (NeurOp 19.00 dB, BNO 20.00 dB)")
    assert "BNO is best on ΔE76 with 8.50, 0.50 below the identity's 9.00 (NeurOp 9.50)." in text
    split = {"identity": {"psnr": 20.0, "delta_e76": 9.0, "images": 8}, "neurop": {"psnr": 23.0, "delta_e76": 7.0}, "bno": {"psnr": 24.5, "delta_e76": 7.5}}
    assert reading(split) == ("On the 8 test images, BNO is best on PSNR with 24.50 dB, 4.50 dB above the identity's 20.00 dB (NeurOp 23.00 dB); "
                              "NeurOp is best on ΔE76 with 7.00, 2.00 below the identity's 9.00 (BNO 7.50).")


def test_slider_labels():
    assert [slider_label("EX", v) for v in (-2, -0.6, 0, 1.25)] == ["Exposure −2.0 EV", "Exposure −0.6 EV", "Exposure 0.0 EV", "Exposure +1.25 EV"]
    assert [slider_label("WB", v) for v in (5499.98, 12222.2)] == ["Temperature 5500 K", "Temperature 12222 K"]
    assert [slider_label("BC", v) for v in (-100, 0, 30.0000001)] == ["Blacks −100", "Blacks 0", "Blacks +30"]
