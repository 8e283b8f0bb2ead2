// A series over time drawn as SVG by our own code, no library: a line through the points, and each
// point a circle that carries its date and its exact amount, so that what is drawn can be checked
// against what the API answered.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 8, right: 8, top: 16, bottom: 28 };

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

// `points` are [date, amount, partial] triples, oldest first, each amount a decimal string and
// `partial` whether some of it could not be counted (drawn hollow); `money` formats an amount.
// Points are spaced evenly (a series' days are), the amounts scaled between their least and
// greatest.
export function drawSeries(points, money, label) {
  const values = points.map(([, amount]) => Number(amount));
  const low = Math.min(...values);
  const high = Math.max(...values);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (index) => PAD.left + (points.length === 1 ? plotWidth / 2 : (index * plotWidth) / (points.length - 1));
  const y = (value) => PAD.top + (high === low ? plotHeight / 2 : ((high - value) * plotHeight) / (high - low));
  const at = points.map(([, amount], index) => [x(index), y(Number(amount))]);
  const first = points[0];
  const last = points[points.length - 1];
  return svg(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-label": `${label}: ${money(first[1])} on ${first[0]}, ${money(last[1])} on ${last[0]}`,
    },
    svg("line", { class: "axis", x1: PAD.left, x2: WIDTH - PAD.right, y1: HEIGHT - PAD.bottom, y2: HEIGHT - PAD.bottom }),
    svg("polyline", { class: "line", points: at.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ") }),
    ...points.map(([day, amount, partial], index) =>
      svg(
        "circle",
        {
          class: partial ? "point partial" : "point",
          cx: at[index][0].toFixed(1),
          cy: at[index][1].toFixed(1),
          r: points.length > 90 ? 1.5 : 3,
          "data-date": day,
          "data-amount": amount,
        },
        svg("title", {}, `${day}: ${money(amount)}`),
      ),
    ),
    svg("text", { class: "high", x: PAD.left, y: PAD.top - 4 }, money(String(high))),
    svg("text", { class: "low", x: PAD.left, y: HEIGHT - PAD.bottom - 4 }, money(String(low))),
    svg("text", { class: "from", x: PAD.left, y: HEIGHT - 8 }, first[0]),
    svg("text", { class: "to", x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end" }, last[0]),
  );
}
