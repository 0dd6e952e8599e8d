"""The dashboard in a real browser: every experiment listed, sorted and filtered as `ls` does,
one chart series per experiment per metric, hostile text shown as text, and the report file
opened from disk offline showing the same. See conftest.py."""

import json
import os
import subprocess
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import ROOT, Server, act, make_project, open_page, row_ids, screenshot

HOSTILE_PART = '<img src=x onerror="window.__xss=1">'


def no_script_ran(driver):
    assert driver.execute_script("return window.__xss === undefined"), "an injected script ran"
    assert driver.execute_script("return document.querySelectorAll('#app img, #app script').length") == 0


def test_experiments_page_lists_every_experiment_as_ls(browser, server, project):
    open_page(browser, server.url)
    assert row_ids(browser) == project.ids()
    count = browser.find_element(By.ID, "row-count")
    assert count.get_attribute("data-total") == "4"
    screenshot(browser, "experiments")


def test_sorting_by_a_column_and_a_filter_change_the_rows_as_ls_does(browser, server, project):
    open_page(browser, server.url)
    header = lambda key: browser.find_element(By.CSS_SELECTOR, f'th[data-key="{key}"]')
    act(browser, header("loss").click)
    assert row_ids(browser) == project.ids("--sort", "loss")
    act(browser, header("loss").click)
    assert row_ids(browser) == project.ids("--sort", "-loss")
    assert project.ids("--sort", "loss") != project.ids("--sort", "-loss")
    act(browser, header("batch").click)
    assert row_ids(browser) == project.ids("--sort", "batch")

    box = browser.find_element(By.CSS_SELECTOR, "input.filter")
    box.clear()
    box.send_keys("loss < 0.5")
    act(browser, lambda: box.send_keys(Keys.ENTER))
    assert row_ids(browser) == project.ids("--sort", "batch", "--filter", "loss < 0.5")
    assert 0 < len(row_ids(browser)) < 4

    # A bad filter shows `ls`'s own error inline and lists nothing.
    box = browser.find_element(By.CSS_SELECTOR, "input.filter")
    box.clear()
    box.send_keys("loss << 0.5")
    act(browser, lambda: box.send_keys(Keys.ENTER))
    shown = browser.find_element(By.ID, "filter-error").text
    err = project.ks("ls", "--filter", "loss << 0.5", check=False).stderr.splitlines()[0]
    assert err.removeprefix("error: ") in shown
    assert row_ids(browser) == []
    screenshot(browser, "experiments-bad-filter")
    box = browser.find_element(By.CSS_SELECTOR, "input.filter")
    box.clear()
    act(browser, lambda: box.send_keys(Keys.ENTER))
    assert sorted(row_ids(browser)) == sorted(project.ids())


def test_compare_page_draws_one_series_per_experiment_per_metric(browser, server, project):
    open_page(browser, server.url)
    ids = project.ids()
    chosen = ids[:3]
    for i in chosen:
        browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{i}"] input.select').click()
    act(browser, browser.find_element(By.ID, "compare").click)
    assert browser.current_url.endswith("#/compare/" + ",".join(chosen))
    listing = {r["id"]: r for r in json.loads(project.ks("ls", "--json").stdout)}
    charts = browser.find_elements(By.CSS_SELECTOR, "#compare-charts svg.chart")
    assert sorted(c.get_attribute("data-metric") for c in charts) == ["accuracy", "loss"]
    for chart in charts:
        series = chart.find_elements(By.CSS_SELECTOR, "path.series")
        assert [s.get_attribute("data-experiment") for s in series] == chosen
        for s in series:
            # Every checkpoint of that experiment is a point of its curve.
            assert int(s.get_attribute("data-points")) == listing[s.get_attribute("data-experiment")]["num_checkpoints"]
        colors = [s.get_attribute("stroke") for s in series]
        assert len(set(colors)) == len(chosen)
    # Labelled by the params that differ, not only IDs.
    legend = browser.find_element(By.ID, "legend").text
    for i in chosen:
        assert f"lr={listing[i]['params']['lr']:g}" in legend
    # The parallel-coordinates plot has a line per experiment.
    lines = browser.find_elements(By.CSS_SELECTOR, "#parallel polyline.series")
    assert sorted(l.get_attribute("data-experiment") for l in lines) == sorted(chosen)
    # Log scale redraws the same series.
    browser.find_element(By.ID, "log-scale").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#compare-charts path.series")) == 2 * len(chosen)
    no_script_ran(browser)
    screenshot(browser, "compare")


def test_experiment_page_has_its_checkpoints_charts_and_commands(browser, server, project):
    exp = json.loads(project.ks("ls", "--json").stdout)[3]
    shown = json.loads(project.ks("show", "--json", exp["id"]).stdout)
    open_page(browser, f"{server.url}#/e/{exp['id'][:8]}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr")
    assert [r.get_attribute("data-id") for r in rows] == [c["id"] for c in shown["checkpoints"]]
    best = browser.find_elements(By.CSS_SELECTOR, "#checkpoints tr.best")
    assert [b.get_attribute("data-id") for b in best] == [exp["best_checkpoint"]["id"]]
    charts = browser.find_elements(By.CSS_SELECTOR, "#charts svg.chart")
    assert sorted(c.get_attribute("data-metric") for c in charts) == ["accuracy", "loss"]
    for c in charts:
        (path,) = c.find_elements(By.CSS_SELECTOR, "path.series")
        assert int(path.get_attribute("data-points")) == len(shown["checkpoints"])
    text = browser.find_element(By.ID, "app").text
    assert f"git keepsake checkout {exp['id'][:7]}" in text
    assert f"git keepsake apply {exp['id'][:7]}" in text
    assert "git keepsake branch" in text
    screenshot(browser, "experiment")


def test_a_hostile_param_shows_as_text_and_runs_nothing(browser, server, project):
    hostile = next(r for r in json.loads(project.ks("ls", "--json").stdout) if "<" in r["params"]["note"])
    for url in [server.url, f"{server.url}#/e/{hostile['id']}"]:
        open_page(browser, url)
        assert HOSTILE_PART in browser.find_element(By.ID, "app").get_attribute("textContent")
        no_script_ran(browser)
    screenshot(browser, "experiment-hostile")


def test_the_report_opened_from_disk_offline_shows_the_same_rows_and_series(offline_browser, project, tmp_root):
    out = tmp_root / "report.html"
    ids = project.ids()
    project.ks("report", *ids, "-o", str(out))
    open_page(offline_browser, out.as_uri())
    assert row_ids(offline_browser) == ids
    listing = {r["id"]: r for r in json.loads(project.ks("ls", "--json").stdout)}
    charts = offline_browser.find_elements(By.CSS_SELECTOR, "#report-compare #compare-charts svg.chart")
    assert sorted(c.get_attribute("data-metric") for c in charts) == ["accuracy", "loss"]
    for chart in charts:
        series = chart.find_elements(By.CSS_SELECTOR, "path.series")
        assert [s.get_attribute("data-experiment") for s in series] == ids
        for s in series:
            assert int(s.get_attribute("data-points")) == listing[s.get_attribute("data-experiment")]["num_checkpoints"]
    # The params table with only the differences: lr, batch and note differ.
    params = offline_browser.find_elements(By.CSS_SELECTOR, "#compare-table tr[data-param]")
    assert sorted(p.get_attribute("data-param") for p in params) == ["batch", "lr", "note"]
    assert HOSTILE_PART in offline_browser.find_element(By.ID, "app").get_attribute("textContent")
    no_script_ran(offline_browser)
    screenshot(offline_browser, "report")
    # An experiment's page works from the file too.
    act(offline_browser, lambda: offline_browser.execute_script(f"location.hash = '#/e/{ids[0]}'"))
    assert len(offline_browser.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr")) == listing[ids[0]]["num_checkpoints"]


def test_ten_thousand_experiments_are_all_listed(browser, big_server, big_project):
    ids = big_project.ids()
    assert len(ids) == 10000
    open_page(browser, big_server.url, timeout=180)
    count = browser.find_element(By.ID, "row-count")
    assert count.get_attribute("data-total") == "10000"
    assert len(row_ids(browser)) == 100
    screenshot(browser, "experiments-10000")
    size = browser.find_element(By.ID, "page-size")
    act(browser, lambda: size.find_element(By.CSS_SELECTOR, 'option[value="1000"]').click())
    seen = []
    for page in range(10):
        seen += row_ids(browser)
        if page < 9:
            act(browser, browser.find_element(By.ID, "next").click)
    assert seen == ids
    assert browser.find_element(By.ID, "next").get_attribute("disabled") is not None


def test_a_running_experiment_is_marked_live_and_its_charts_follow_new_checkpoints(browser, tmp_root):
    p = make_project(tmp_root / "live")
    next_file, stop_file = tmp_root / "live-next", tmp_root / "live-stop"
    python = os.environ.get("KEEPSAKE_PYTHON", sys.executable)
    run = subprocess.Popen([python, str(ROOT / "tests" / "web" / "running_run.py"), str(next_file), str(stop_file)],
                           cwd=p.path, env=p.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server = None
    try:
        exp_id = run.stdout.readline().strip()
        assert len(exp_id) == 64, exp_id
        assert p.ids("--filter", "status = running") == [exp_id]
        server = Server(p)
        open_page(browser, server.url)
        cell = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{exp_id}"] .status-running')
        assert cell.text == "running"
        open_page(browser, f"{server.url}#/e/{exp_id}")
        points = lambda: browser.execute_script(
            "const p = document.querySelector('#charts svg[data-metric=\"loss\"] path.series');"
            "return p ? Number(p.dataset.points) : -1")
        assert points() == 1
        for want in (2, 3):
            next_file.write_text("go")
            deadline = time.time() + 30
            while points() != want and time.time() < deadline:
                time.sleep(0.2)
            assert points() == want
        assert len(browser.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr")) == 3
        screenshot(browser, "experiment-running")
    finally:
        stop_file.write_text("stop")
        run.wait(timeout=60)
        if server:
            server.stop()
