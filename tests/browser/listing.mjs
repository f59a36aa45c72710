// A directory listing in a real browser: headless Chromium (Debian's
// /usr/bin/chromium, or $CHROMIUM) driven by playwright-core.
//
//     node tests/browser/listing.mjs http://127.0.0.1:PORT/some/dir/
//
// Run by tests/browser.rs, which starts the server on a docroot of its own.
// What the page should show comes from the server's JSON listing of the same
// directory (`?format=json`, with the same sort parameters), so the checks
// hold for any directory. At 1280x800 and with phone emulation (390x844,
// device scale factor 3, mobile): no horizontal scrolling, the viewport meta
// in effect; the rows in the JSON's order; the sort links in the header
// reorder them and a second click reverses; the filter box narrows them;
// dark and light themes follow prefers-color-scheme; no console error
// (a blocked inline script or style is one), and no request but the
// listing's own pages. With SCREENSHOTS=DIR it saves listing-desktop.png
// and listing-mobile.png there. Prints `ok - ...` per check; exits 1 on the
// first failure, 2 if the browser cannot start, within 90 s in any case.

import { chromium } from "playwright-core";

const base = process.argv[2];
if (!base) {
    console.error("usage: node listing.mjs LISTING_URL");
    process.exit(2);
}
const origin = new URL(base).origin;
setTimeout(() => {
    console.error("not ok - took more than 90 s");
    process.exit(1);
}, 90_000).unref();

function fail(message) {
    throw new Error(message);
}

function ok(message) {
    console.log(`ok - ${message}`);
}

// The listing as JSON, for the query of `url`.
async function expected(url) {
    const json = new URL(url);
    json.searchParams.set("format", "json");
    const response = await fetch(json);
    if (response.status !== 200) fail(`${json} answered ${response.status}`);
    return response.json();
}

// The entry names the page shows, in order, and which rows are visible.
async function rows(page) {
    return page.$$eval("#listing tbody tr", (trs) =>
        trs.map((tr) => ({
            name: tr.querySelector("a").textContent.replace(/\/$/, ""),
            visible: tr.getClientRects().length > 0,
        })),
    );
}

async function sameOrder(page, what) {
    const want = (await expected(page.url())).map((e) => e.name);
    const got = (await rows(page)).map((r) => r.name);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
        fail(`${what}: rows ${JSON.stringify(got)}, the JSON listing says ${JSON.stringify(want)}`);
    }
    return want;
}

async function noHorizontalScroll(page, what) {
    const { scroll, client } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
    }));
    if (scroll > client) fail(`${what}: ${scroll} px wide in a ${client} px viewport`);
    ok(`${what}: no horizontal scrolling (${scroll} <= ${client} px)`);
}

// The relative luminance of the body's background (0 black, 1 white).
async function backgroundLuminance(page) {
    const color = await page.evaluate(() => {
        let el = document.body;
        let bg = getComputedStyle(el).backgroundColor;
        if (bg === "rgba(0, 0, 0, 0)" || bg === "transparent") {
            bg = getComputedStyle(document.documentElement).backgroundColor;
        }
        return bg;
    });
    const [r, g, b] = color.match(/[\d.]+/g).map(Number);
    if ([r, g, b].some(Number.isNaN)) fail(`cannot read the background colour ${color}`);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

// A page that records console errors, page errors and every request.
async function open(context, url, problems, requests) {
    const page = await context.newPage();
    page.on("console", (msg) => {
        if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("request", (req) => requests.push(req));
    const response = await page.goto(url, { waitUntil: "load" });
    if (response.status() !== 200) fail(`${url} answered ${response.status()}`);
    return page;
}

async function desktop(browser, problems, requests) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await open(context, base, problems, requests);
    await noHorizontalScroll(page, "1280x800");

    const names = await sameOrder(page, "default order");
    if (names.length < 3) fail(`the test directory should have at least 3 entries, not ${names.length}`);
    ok(`default order: ${names.length} rows as in the JSON listing`);

    // Every sort key: the first click sorts, the second reverses.
    for (const key of ["size", "modified", "name"]) {
        const link = `#listing thead a[data-sort="${key}"]`;
        await Promise.all([page.waitForNavigation(), page.click(link)]);
        const first = new URL(page.url()).searchParams;
        if (first.get("sort") !== key) fail(`the ${key} link went to ${page.url()}`);
        const once = await sameOrder(page, `sorted by ${key}, ${first.get("order")}`);
        await Promise.all([page.waitForNavigation(), page.click(link)]);
        const second = new URL(page.url()).searchParams;
        if (second.get("sort") !== key || second.get("order") === first.get("order")) {
            fail(`a second click on ${key} went to ${page.url()}`);
        }
        const twice = await sameOrder(page, `sorted by ${key}, ${second.get("order")}`);
        const entries = await expected(page.url());
        const dirs = entries.filter((e) => e.type === "dir").length;
        if (entries.slice(0, dirs).some((e) => e.type !== "dir")) fail(`sorted by ${key}: folders are not first`);
        if (key !== "modified" && JSON.stringify(once.slice(dirs).reverse()) !== JSON.stringify(twice.slice(dirs))) {
            fail(`sorted by ${key}: the second click did not reverse the files: ${once} then ${twice}`);
        }
        ok(`sort by ${key}: ${first.get("order")} then ${second.get("order")}, folders first`);
    }

    // The filter narrows the rows as one types, case-insensitively.
    const all = await rows(page);
    const sample = all[all.length - 1].name;
    const needle = sample.slice(0, Math.max(2, Math.min(4, sample.length))).toUpperCase();
    await page.fill("#filter", needle);
    const filtered = await rows(page);
    const want = all.map((r) => r.name.toLowerCase().includes(needle.toLowerCase()));
    filtered.forEach((r, i) => {
        if (r.visible !== want[i]) fail(`filter "${needle}": row "${r.name}" visible=${r.visible}`);
    });
    const shown = filtered.filter((r) => r.visible).length;
    if (shown === 0 || shown === all.length) fail(`filter "${needle}" showed ${shown} of ${all.length} rows`);
    await page.fill("#filter", "");
    if ((await rows(page)).some((r) => !r.visible)) fail("clearing the filter did not show every row again");
    ok(`filter "${needle}": ${shown} of ${all.length} rows, all again when cleared`);

    // Themes.
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await backgroundLuminance(page);
    await page.emulateMedia({ colorScheme: "light" });
    const light = await backgroundLuminance(page);
    if (!(dark < 0.3 && light > 0.7)) fail(`background luminance: dark ${dark.toFixed(2)}, light ${light.toFixed(2)}`);
    ok(`themes: background luminance ${dark.toFixed(2)} dark, ${light.toFixed(2)} light`);

    if (process.env.SCREENSHOTS) {
        await page.goto(base, { waitUntil: "load" });
        await page.screenshot({ path: `${process.env.SCREENSHOTS}/listing-desktop.png` });
    }
    await context.close();
}

async function mobile(browser, problems, requests) {
    const context = await browser.newContext({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 3,
        isMobile: true,
        hasTouch: true,
    });
    const page = await open(context, base, problems, requests);
    // Without <meta name="viewport">, a mobile browser lays out 980 px.
    const width = await page.evaluate(() => window.innerWidth);
    if (width !== 390) fail(`390x844 mobile: the page is laid out ${width} px wide (no viewport meta?)`);
    await noHorizontalScroll(page, "390x844 mobile");
    const size = await page.$eval("#listing tbody tr a", (a) => parseFloat(getComputedStyle(a).fontSize));
    if (size < 14) fail(`390x844 mobile: names in ${size} px type`);
    ok(`390x844 mobile: laid out at 390 px, names in ${size} px type`);
    if (process.env.SCREENSHOTS) {
        await page.emulateMedia({ colorScheme: "dark" });
        await page.screenshot({ path: `${process.env.SCREENSHOTS}/listing-mobile.png` });
    }
    await context.close();
}

let browser;
try {
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        headless: true,
        // As root there is no sandbox; nothing may reach the network.
        args: [
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    });
} catch (err) {
    console.error(`cannot start chromium: ${err.message}`);
    process.exit(2);
}
const problems = [];
const requests = [];
try {
    await desktop(browser, problems, requests);
    await mobile(browser, problems, requests);
    if (problems.length) fail(problems.join("\n"));
    ok("no console errors");
    const path = new URL(base).pathname;
    const others = requests.filter(
        (r) => !(r.resourceType() === "document" && r.url().startsWith(origin + path)),
    );
    if (others.length) fail(`requests beyond the listing: ${others.map((r) => `${r.resourceType()} ${r.url()}`)}`);
    ok(`${requests.length} requests, every one a listing page`);
} catch (err) {
    console.error(`not ok - ${err.message}`);
    await browser.close();
    process.exit(1);
}
await browser.close();
