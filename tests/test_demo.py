"""`bno-demo` end to end on a few bundled samples with a tiny budget; the report opened in Chromium."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bno.pipelines.cli.demo import main as demo

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
#: Four train scenes and two test scenes (ids ≥ a4501) keep the run to about a minute.
SCENES = ["a0023-IMG_0023", "a0899-_DSC5348 (original)", "a2040-IMG_2040", "a3265-_DSC3265", "a4514-IMG_0514", "a4733-_DSC4733 (original)"]
TINY = [f"{stage}.{key}={value}" for stage in ("stage1", "stage2") for key, value in (("epochs", 1), ("steps_per_epoch", 2), ("batch_size", 2))]
TINY += ["stage2.val_from_train=1"]  # 6 samples leave 4 training pairs


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
def report(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    (work / "raws").mkdir()
    (work / "expert").mkdir()
    for scene in SCENES:
        shutil.copy(SAMPLES / "raws" / f"{scene}.dng", work / "raws")
        shutil.copy(SAMPLES / "expert" / f"{scene}.jpg", work / "expert")
    args = ["--out", str(work / "out"), "--raws", str(work / "raws"), "--targets", str(work / "expert")]
    result = CliRunner().invoke(demo, args + [item for value in TINY for item in ("--set", value)])
    assert result.exit_code == 0, result.output + (work / "out" / "demo.log").read_text()
    return work / "out"


@pytest.mark.timeout(600)
def test_demo_writes_outputs(report):
    assert (report / "report.html").stat().st_size > 10_000
    for scene in SCENES[4:]:  # the test scenes were enhanced, with a sidecar from BNO
        assert (report / "enhanced" / "bno" / f"{scene}.xmp").exists()
        assert (report / "enhanced" / "neurop" / f"{scene}.tif").exists()
    html = (report / "report.html").read_text()
    for section in ("Operator data", "Training", "Stage 2 on the test split", "Before and after", "Slider read-outs"):
        assert section in html
    assert "src=\"http" not in html and "src=\"file" not in html  # self-contained


@pytest.mark.timeout(600)
def test_every_image_loads_in_chromium(report):
    browser = _browser()
    try:
        browser.get((report / "report.html").as_uri())
        states = browser.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
        )
    finally:
        browser.quit()
    assert len(states) >= 4 + 4 + 2  # contact sheets, loss curves, before/after strips
    broken = [alt for complete, width, alt in states if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"


def test_a_missing_recipe_is_a_one_line_error(tmp_path, monkeypatch):
    import bno.pipelines.demo.workflow

    monkeypatch.setattr(bno.pipelines.demo.workflow, "_CONFIGS", tmp_path / "configs")
    result = CliRunner().invoke(demo, ["--out", str(tmp_path / "demo")])
    assert result.exit_code == 2 and result.output.startswith("error:") and "demo.yaml not found" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()  # nothing written
