// Ordnance Survey grid references for positions on screen, the one way the
// app writes a position for people ("ST 309 877": a 100 m square). Worked
// out here from WGS84 with the Helmert transformation to OSGB36 and the
// Transverse Mercator projection (a few metres from OSTN15, which the
// server uses for exact conversions), which is well inside a 100 m square:
// a generalised record is shown at its square's centre, 50 m from any
// edge, so its reference is its square's.

const RAD = Math.PI / 180;

/** WGS84 latitude, longitude (degrees) to OSGB36 latitude, longitude (radians). */
function toOsgb36(lat, lon) {
  const [a1, b1] = [6378137.0, 6356752.3141];
  const e21 = 1 - (b1 * b1) / (a1 * a1);
  const [phi, lambda] = [lat * RAD, lon * RAD];
  const nu1 = a1 / Math.sqrt(1 - e21 * Math.sin(phi) ** 2);
  const x1 = nu1 * Math.cos(phi) * Math.cos(lambda);
  const y1 = nu1 * Math.cos(phi) * Math.sin(lambda);
  const z1 = (1 - e21) * nu1 * Math.sin(phi);
  // WGS84 to OSGB36 (Ordnance Survey's published parameters).
  const s = 20.4894e-6;
  const [tx, ty, tz] = [-446.448, 125.157, -542.06];
  const [rx, ry, rz] = [-0.1502, -0.247, -0.8421].map((r) => (r / 3600) * RAD);
  const x2 = tx + (1 + s) * x1 - rz * y1 + ry * z1;
  const y2 = ty + rz * x1 + (1 + s) * y1 - rx * z1;
  const z2 = tz - ry * x1 + rx * y1 + (1 + s) * z1;
  const [a, b] = [6377563.396, 6356256.909];
  const e2 = 1 - (b * b) / (a * a);
  const p = Math.sqrt(x2 * x2 + y2 * y2);
  let phi2 = Math.atan2(z2, p * (1 - e2));
  for (let i = 0; i < 10; i++) {
    const nu = a / Math.sqrt(1 - e2 * Math.sin(phi2) ** 2);
    phi2 = Math.atan2(z2 + e2 * nu * Math.sin(phi2), p);
  }
  return [phi2, Math.atan2(y2, x2)];
}

/** OSGB36 latitude, longitude (radians) to National Grid easting, northing (metres). */
function project(phi, lambda) {
  const [a, b, f0] = [6377563.396, 6356256.909, 0.9996012717];
  const [phi0, lambda0, n0, e0] = [49 * RAD, -2 * RAD, -100000, 400000];
  const e2 = 1 - (b * b) / (a * a);
  const n = (a - b) / (a + b);
  const sin = Math.sin(phi);
  const cos = Math.cos(phi);
  const nu = (a * f0) / Math.sqrt(1 - e2 * sin * sin);
  const rho = (a * f0 * (1 - e2)) / (1 - e2 * sin * sin) ** 1.5;
  const eta2 = nu / rho - 1;
  const dp = phi - phi0;
  const sp = phi + phi0;
  const m = b * f0 * ((1 + n + (5 / 4) * n * n + (5 / 4) * n ** 3) * dp
    - (3 * n + 3 * n * n + (21 / 8) * n ** 3) * Math.sin(dp) * Math.cos(sp)
    + ((15 / 8) * n * n + (15 / 8) * n ** 3) * Math.sin(2 * dp) * Math.cos(2 * sp)
    - (35 / 24) * n ** 3 * Math.sin(3 * dp) * Math.cos(3 * sp));
  const tan2 = Math.tan(phi) ** 2;
  const i = m + n0;
  const ii = (nu / 2) * sin * cos;
  const iii = (nu / 24) * sin * cos ** 3 * (5 - tan2 + 9 * eta2);
  const iiia = (nu / 720) * sin * cos ** 5 * (61 - 58 * tan2 + tan2 * tan2);
  const iv = nu * cos;
  const v = (nu / 6) * cos ** 3 * (nu / rho - tan2);
  const vi = (nu / 120) * cos ** 5 * (5 - 18 * tan2 + tan2 * tan2 + 14 * eta2 - 58 * tan2 * eta2);
  const dl = lambda - lambda0;
  return [e0 + iv * dl + v * dl ** 3 + vi * dl ** 5, i + ii * dl ** 2 + iii * dl ** 4 + iiia * dl ** 6];
}

/** Easting and northing (metres) of a WGS84 position. */
export function eastingNorthing(lon, lat) {
  const [phi, lambda] = toOsgb36(lat, lon);
  return project(phi, lambda);
}

/** The 100 m grid reference of a WGS84 position ("ST 309 877"), or '' outside the grid. */
export function gridReference(lon, lat) {
  const [e, n] = eastingNorthing(lon, lat);
  if (!(e >= 0 && e < 700000 && n >= 0 && n < 1300000)) return '';
  const e100k = Math.floor(e / 100000);
  const n100k = Math.floor(n / 100000);
  // The 500 km and 100 km squares' letters (I is not used).
  let l1 = (19 - n100k) - ((19 - n100k) % 5) + Math.floor((e100k + 10) / 5);
  let l2 = (((19 - n100k) * 5) % 25) + (e100k % 5);
  if (l1 > 7) l1 += 1;
  if (l2 > 7) l2 += 1;
  const letters = String.fromCharCode(l1 + 65) + String.fromCharCode(l2 + 65);
  const digits = (v) => String(Math.floor((v % 100000) / 100)).padStart(3, '0');
  return `${letters} ${digits(e)} ${digits(n)}`;
}
