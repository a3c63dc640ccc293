"""IMU orientation filters: Madgwick, Mahony, the decoupled robust filter, single-axis filters.

Quaternions are ``(w, x, y, z)`` and rotate sensor coordinates into earth coordinates.
Every filter keeps its whole state in one float64 array ``s`` that the caller carries
(``s[0]`` is 1.0 once the filter is initialised) and its settings in a float64 array
``p``; the batch kernels step through their samples in order, so feeding a stream in
blocks of any size gives the same output as feeding it whole. Inputs are checked by
the public module (``edgekit.analytics.fusion``); these kernels trust their shapes.

Madgwick and Mahony run in the earth frame of Madgwick's C code (x magnetic north,
y west, z up) and rotate their output into ENU by a fixed quarter turn about z, as
BROAD's evaluation does; the robust filter works in ENU directly.
"""

from __future__ import annotations

import math

from edgekit._jit import njit

# Largest gyroscope rate accepted, rad/s (4000 deg/s, the widest common MEMS range): a
# larger value is taken for deg/s given where rad/s is expected.
GYR_MAX = 70.0
OK = 0
ERR_SHAPE = 1
ERR_FINITE = 2
ERR_GYR = 3

# sqrt(1/2): the quarter turn about z from Madgwick's north-west-up frame to ENU
_H = math.sqrt(0.5)


@njit
def quat_mul(aw, ax, ay, az, bw, bx, by, bz):
    """Hamilton product ``a * b``, summed pairwise (shorter dependency chains)."""
    return (
        (aw * bw - ax * bx) - (ay * by + az * bz),
        (aw * bx + ax * bw) + (ay * bz - az * by),
        (aw * by - ax * bz) + (ay * bw + az * bx),
        (aw * bz + ax * by) - (ay * bx - az * bw),
    )


@njit
def quat_from_matrix(r00, r01, r02, r10, r11, r12, r20, r21, r22):
    """Unit quaternion of a rotation matrix (rows given in order), w >= 0."""
    w = math.sqrt(max(0.0, (1.0 + r00 + r11 + r22) / 4.0))
    x = math.copysign(math.sqrt(max(0.0, (1.0 + r00 - r11 - r22) / 4.0)), r21 - r12)
    y = math.copysign(math.sqrt(max(0.0, (1.0 - r00 + r11 - r22) / 4.0)), r02 - r20)
    z = math.copysign(math.sqrt(max(0.0, (1.0 - r00 - r11 + r22) / 4.0)), r10 - r01)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    return w / n, x / n, y / n, z / n


@njit
def broad_initial(ax, ay, az, mx, my, mz):
    """BROAD's reference initial state from one accelerometer and magnetometer sample:
    the matrix with columns x = (z x -m) x z, y = z x x, z = a (normalised)."""
    # c = z x (-m)
    cx = -(ay * mz - az * my)
    cy = -(az * mx - ax * mz)
    cz = -(ax * my - ay * mx)
    # x = c x z
    xx = cy * az - cz * ay
    xy = cz * ax - cx * az
    xz = cx * ay - cy * ax
    # y = z x x
    yx = ay * xz - az * xy
    yy = az * xx - ax * xz
    yz = ax * xy - ay * xx
    nx = math.sqrt(xx * xx + xy * xy + xz * xz)
    ny = math.sqrt(yx * yx + yy * yy + yz * yz)
    nz = math.sqrt(ax * ax + ay * ay + az * az)
    return quat_from_matrix(
        xx / nx, yx / ny, ax / nz, xy / nx, yy / ny, ay / nz, xz / nx, yz / ny, az / nz
    )


@njit
def tilt_initial(ax, ay, az):
    """The smallest rotation that takes the measured acceleration direction to earth z
    (heading left at zero): the start of a filter without magnetometer."""
    n = math.sqrt(ax * ax + ay * ay + az * az)
    ux = ax / n
    uy = ay / n
    uz = az / n
    # rotation of u onto (0, 0, 1): axis u x z = (uy, -ux, 0), half-angle quaternion
    w = math.sqrt(max(0.0, (1.0 + uz) / 2.0))
    if w < 1e-9:  # upside down: half a turn about x
        return 0.0, 1.0, 0.0, 0.0
    return w, uy / (2.0 * w), -ux / (2.0 * w), 0.0


@njit
def enu_initial(ax, ay, az, mx, my, mz):
    """Sensor-to-ENU quaternion from gravity (up) and the magnetic field (north)."""
    na = math.sqrt(ax * ax + ay * ay + az * az)
    ux = ax / na
    uy = ay / na
    uz = az / na
    # east = m x up, north = up x east (earth axes in sensor coordinates, the matrix rows)
    ex = my * uz - mz * uy
    ey = mz * ux - mx * uz
    ez = mx * uy - my * ux
    ne = math.sqrt(ex * ex + ey * ey + ez * ez)
    if ne < 1e-12:  # field along gravity: no heading
        return tilt_initial(ax, ay, az)
    ex /= ne
    ey /= ne
    ez /= ne
    nx = uy * ez - uz * ey
    ny = uz * ex - ux * ez
    nz = ux * ey - uy * ex
    return quat_from_matrix(ex, ey, ez, nx, ny, nz, ux, uy, uz)


# --- Madgwick ---------------------------------------------------------------------------
# s: [initialised, q0, q1, q2, q3] (north-west-up frame)
# p: [beta, dt, b_scale]  b_scale 2.0: the paper's gradient; 1.0: Madgwick's C code of
#    2012 that BROAD's evaluation ran (the earth field reference bx, bz at half size)


@njit
def _madgwick_step(s, beta, dt, bscale, gx, gy, gz, ax, ay, az, mx, my, mz, use_mag):
    q0 = s[1]
    q1 = s[2]
    q2 = s[3]
    q3 = s[4]
    qd0 = 0.5 * (-q1 * gx - q2 * gy - q3 * gz)
    qd1 = 0.5 * (q0 * gx + q2 * gz - q3 * gy)
    qd2 = 0.5 * (q0 * gy - q1 * gz + q3 * gx)
    qd3 = 0.5 * (q0 * gz + q1 * gy - q2 * gx)
    if use_mag and mx == 0.0 and my == 0.0 and mz == 0.0:
        use_mag = False
    if not (ax == 0.0 and ay == 0.0 and az == 0.0):
        r = 1.0 / math.sqrt(ax * ax + ay * ay + az * az)
        ax *= r
        ay *= r
        az *= r
        if use_mag:
            r = 1.0 / math.sqrt(mx * mx + my * my + mz * mz)
            mx *= r
            my *= r
            mz *= r
            q0q1 = q0 * q1
            q0q2 = q0 * q2
            q0q3 = q0 * q3
            q1q1 = q1 * q1
            q1q2 = q1 * q2
            q1q3 = q1 * q3
            q2q2 = q2 * q2
            q2q3 = q2 * q3
            q3q3 = q3 * q3
            # the field in earth coordinates, h = q m q*
            hx = 2.0 * (mx * (0.5 - q2q2 - q3q3) + my * (q1q2 - q0q3) + mz * (q1q3 + q0q2))
            hy = 2.0 * (mx * (q1q2 + q0q3) + my * (0.5 - q1q1 - q3q3) + mz * (q2q3 - q0q1))
            hz = 2.0 * (mx * (q1q3 - q0q2) + my * (q2q3 + q0q1) + mz * (0.5 - q1q1 - q2q2))
            bx2 = bscale * math.sqrt(hx * hx + hy * hy)  # 2 bx
            bz2 = bscale * hz  # 2 bz
            # objective f (gravity, field) and the gradient J^T f
            f0 = 2.0 * (q1q3 - q0q2) - ax
            f1 = 2.0 * (q0q1 + q2q3) - ay
            f2 = 2.0 * (0.5 - q1q1 - q2q2) - az
            f3 = bx2 * (0.5 - q2q2 - q3q3) + bz2 * (q1q3 - q0q2) - mx
            f4 = bx2 * (q1q2 - q0q3) + bz2 * (q0q1 + q2q3) - my
            f5 = bx2 * (q0q2 + q1q3) + bz2 * (0.5 - q1q1 - q2q2) - mz
            s0 = -2.0 * q2 * f0 + 2.0 * q1 * f1 - bz2 * q2 * f3
            s0 += (-bx2 * q3 + bz2 * q1) * f4 + bx2 * q2 * f5
            s1 = 2.0 * q3 * f0 + 2.0 * q0 * f1 - 4.0 * q1 * f2 + bz2 * q3 * f3
            s1 += (bx2 * q2 + bz2 * q0) * f4 + (bx2 * q3 - 2.0 * bz2 * q1) * f5
            s2 = -2.0 * q0 * f0 + 2.0 * q3 * f1 - 4.0 * q2 * f2
            s2 += (-2.0 * bx2 * q2 - bz2 * q0) * f3 + (bx2 * q1 + bz2 * q3) * f4
            s2 += (bx2 * q0 - 2.0 * bz2 * q2) * f5
            s3 = 2.0 * q1 * f0 + 2.0 * q2 * f1 + (-2.0 * bx2 * q3 + bz2 * q1) * f3
            s3 += (-bx2 * q0 + bz2 * q2) * f4 + bx2 * q1 * f5
        else:
            f0 = 2.0 * (q1 * q3 - q0 * q2) - ax
            f1 = 2.0 * (q0 * q1 + q2 * q3) - ay
            f2 = 2.0 * (0.5 - q1 * q1 - q2 * q2) - az
            s0 = -2.0 * q2 * f0 + 2.0 * q1 * f1
            s1 = 2.0 * q3 * f0 + 2.0 * q0 * f1 - 4.0 * q1 * f2
            s2 = -2.0 * q0 * f0 + 2.0 * q3 * f1 - 4.0 * q2 * f2
            s3 = 2.0 * q1 * f0 + 2.0 * q2 * f1
        n = math.sqrt(s0 * s0 + s1 * s1 + s2 * s2 + s3 * s3)
        if n > 0.0:
            r = beta / n
            qd0 -= r * s0
            qd1 -= r * s1
            qd2 -= r * s2
            qd3 -= r * s3
    q0 += qd0 * dt
    q1 += qd1 * dt
    q2 += qd2 * dt
    q3 += qd3 * dt
    r = 1.0 / math.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
    s[1] = q0 * r
    s[2] = q1 * r
    s[3] = q2 * r
    s[4] = q3 * r


@njit
def _nwu_start(s, ax, ay, az, mx, my, mz, use_mag):
    if use_mag and not (mx == 0.0 and my == 0.0 and mz == 0.0):
        w, x, y, z = broad_initial(ax, ay, az, mx, my, mz)
    else:  # heading 0 in the ENU output
        tw, tx, ty, tz = tilt_initial(ax, ay, az)
        w, x, y, z = _H * tw + _H * tz, _H * tx + _H * ty, _H * ty - _H * tx, _H * tz - _H * tw
    s[0] = 1.0
    s[1] = w
    s[2] = x
    s[3] = y
    s[4] = z


@njit
def _nwu_to_enu(s):
    """The quarter turn about z (north-west-up -> ENU) times the state's quaternion."""
    return (
        _H * s[1] - _H * s[4],
        _H * s[2] - _H * s[3],
        _H * s[3] + _H * s[2],
        _H * s[4] + _H * s[1],
    )


@njit
def _enu_out(s, out, i):
    """out[i] = :func:`_nwu_to_enu` (s)."""
    out[i, 0], out[i, 1], out[i, 2], out[i, 3] = _nwu_to_enu(s)


@njit
def madgwick_batch(s, p, gyr, acc, mag, use_mag, out):
    """Run Madgwick over ``gyr``, ``acc`` (and ``mag`` when ``use_mag``), (n, 3) each;
    write ENU quaternions into ``out`` (n, 4)."""
    beta = p[0]
    dt = p[1]
    bscale = p[2]
    for i in range(gyr.shape[0]):
        mx = my = mz = 0.0
        if use_mag:
            mx = mag[i, 0]
            my = mag[i, 1]
            mz = mag[i, 2]
        if s[0] == 0.0:
            _nwu_start(s, acc[i, 0], acc[i, 1], acc[i, 2], mx, my, mz, use_mag)
        _madgwick_step(
            s, beta, dt, bscale, gyr[i, 0], gyr[i, 1], gyr[i, 2],
            acc[i, 0], acc[i, 1], acc[i, 2], mx, my, mz, use_mag,
        )  # fmt: skip
        _enu_out(s, out, i)


# --- Mahony -----------------------------------------------------------------------------
# s: [initialised, q0, q1, q2, q3, ix, iy, iz] (north-west-up; i: integral feedback, rad/s)
# p: [2 kp, 2 ki, dt]


@njit
def _mahony_step(s, two_kp, two_ki, dt, gx, gy, gz, ax, ay, az, mx, my, mz, use_mag):
    q0 = s[1]
    q1 = s[2]
    q2 = s[3]
    q3 = s[4]
    if use_mag and mx == 0.0 and my == 0.0 and mz == 0.0:
        use_mag = False
    if not (ax == 0.0 and ay == 0.0 and az == 0.0):
        r = 1.0 / math.sqrt(ax * ax + ay * ay + az * az)
        ax *= r
        ay *= r
        az *= r
        # half the estimated gravity direction in sensor coordinates
        vx = q1 * q3 - q0 * q2
        vy = q0 * q1 + q2 * q3
        vz = q0 * q0 - 0.5 + q3 * q3
        ex = ay * vz - az * vy
        ey = az * vx - ax * vz
        ez = ax * vy - ay * vx
        if use_mag:
            r = 1.0 / math.sqrt(mx * mx + my * my + mz * mz)
            mx *= r
            my *= r
            mz *= r
            q0q1 = q0 * q1
            q0q2 = q0 * q2
            q0q3 = q0 * q3
            q1q1 = q1 * q1
            q1q2 = q1 * q2
            q1q3 = q1 * q3
            q2q2 = q2 * q2
            q2q3 = q2 * q3
            q3q3 = q3 * q3
            hx = 2.0 * (mx * (0.5 - q2q2 - q3q3) + my * (q1q2 - q0q3) + mz * (q1q3 + q0q2))
            hy = 2.0 * (mx * (q1q2 + q0q3) + my * (0.5 - q1q1 - q3q3) + mz * (q2q3 - q0q1))
            bx = math.sqrt(hx * hx + hy * hy)
            bz = 2.0 * (mx * (q1q3 - q0q2) + my * (q2q3 + q0q1) + mz * (0.5 - q1q1 - q2q2))
            # half the estimated field direction in sensor coordinates
            wx = bx * (0.5 - q2q2 - q3q3) + bz * (q1q3 - q0q2)
            wy = bx * (q1q2 - q0q3) + bz * (q0q1 + q2q3)
            wz = bx * (q0q2 + q1q3) + bz * (0.5 - q1q1 - q2q2)
            ex += my * wz - mz * wy
            ey += mz * wx - mx * wz
            ez += mx * wy - my * wx
        if two_ki > 0.0:
            s[5] += two_ki * ex * dt
            s[6] += two_ki * ey * dt
            s[7] += two_ki * ez * dt
            gx += s[5]
            gy += s[6]
            gz += s[7]
        else:
            s[5] = 0.0
            s[6] = 0.0
            s[7] = 0.0
        gx += two_kp * ex
        gy += two_kp * ey
        gz += two_kp * ez
    h = 0.5 * dt
    gx *= h
    gy *= h
    gz *= h
    n0 = q0 + (-q1 * gx - q2 * gy - q3 * gz)
    n1 = q1 + (q0 * gx + q2 * gz - q3 * gy)
    n2 = q2 + (q0 * gy - q1 * gz + q3 * gx)
    n3 = q3 + (q0 * gz + q1 * gy - q2 * gx)
    r = 1.0 / math.sqrt(n0 * n0 + n1 * n1 + n2 * n2 + n3 * n3)
    s[1] = n0 * r
    s[2] = n1 * r
    s[3] = n2 * r
    s[4] = n3 * r


@njit
def mahony_batch(s, p, gyr, acc, mag, use_mag, out):
    """Run Mahony over ``gyr``, ``acc`` (and ``mag``); ENU quaternions into ``out``."""
    two_kp = p[0]
    two_ki = p[1]
    dt = p[2]
    for i in range(gyr.shape[0]):
        mx = my = mz = 0.0
        if use_mag:
            mx = mag[i, 0]
            my = mag[i, 1]
            mz = mag[i, 2]
        if s[0] == 0.0:
            _nwu_start(s, acc[i, 0], acc[i, 1], acc[i, 2], mx, my, mz, use_mag)
        _mahony_step(
            s, two_kp, two_ki, dt, gyr[i, 0], gyr[i, 1], gyr[i, 2],
            acc[i, 0], acc[i, 1], acc[i, 2], mx, my, mz, use_mag,
        )  # fmt: skip
        _enu_out(s, out, i)


# --- the robust filter ------------------------------------------------------------------
# Orientation = heading(delta) * q_inc * q_gyr (ENU): q_gyr integrates the bias-corrected
# gyroscope from the sensor into an almost inertial frame I; the accelerometer is rotated
# into I and low-passed there (linear accelerations average out: their integral is a
# velocity), and q_inc turns its direction to earth z (inclination only); the horizontal
# magnetic field turns the heading delta about z (heading only), unless the field's norm
# or dip says it is disturbed. The gyroscope bias is learnt while the sensor rests.
#
# s: [0 initialised, 1-4 q_gyr, 5-8 q_inc, 9 cos(delta / 2), 10-12 acc low-pass in I,
#     13-15 gyro bias, 16-18 gyro low-pass, 19-21 acc low-pass (sensor), 22 rest time,
#     23-24 field reference, 25 disturbed time, 26-27 candidate field, 28 candidate time,
#     29 reference confirmed, 30 field samples used, 31 sin(delta / 2), 32 samples until
#     the next correction]
#     A field (reference, candidate) is the pair (horizontal, vertical) of its earth-frame
#     components: its norm and its dip as one vector, compared without sqrt or asin.
# p: [dt, k_acc, k_mag, k_rest_lp, rest_gyr, rest_acc, rest_time, k_bias, (1 - norm_th)^2
#     (0 when norm_th >= 1), (1 + norm_th)^2, k_ref, new_ref_time, max_reject_time,
#     k_mag_rejected, first_ref_time, cos(dip_th), corrections every this many samples]
#     (the gains k_mag, k_ref, k_mag_rejected are for the interval between corrections)
ROBUST_STATE = 33
ROBUST_PARAMS = 17

# The usual step takes power series instead of sqrt, division and libm's cos and sin: a
# half rotation angle h with h^2 < _H2_MAX (|h| < 0.05 rad) and a tilt correction of
# tan^2 < _T_MAX (0.01 rad). Their first dropped terms are below 1e-17 (double rounding
# is 1.1e-16), so they give libm's results to rounding.
_H2_MAX = 0.0025
_T_MAX = 1e-4
# atan(t) for |t| < _A_MAX by its series to t^15: the first dropped term, t^17 / 17, is
# below 6e-18 |t|
_A_MAX = 0.1


@njit
def _rotate(qw, qx, qy, qz, vx, vy, vz):
    """v rotated by the unit quaternion q (q v q*)."""
    tx = 2.0 * (qy * vz - qz * vy)
    ty = 2.0 * (qz * vx - qx * vz)
    tz = 2.0 * (qx * vy - qy * vx)
    return (
        (vx + qw * tx) + (qy * tz - qz * ty),
        (vy + qw * ty) + (qz * tx - qx * tz),
        (vz + qw * tz) + (qx * ty - qy * tx),
    )


@njit
def _norm2(q0, q1, q2, q3):
    return (q0 * q0 + q1 * q1) + (q2 * q2 + q3 * q3)


@njit
def _renorm(n2):
    """1 / sqrt(n2) for n2 near 1 (a product of unit quaternions): one Newton step,
    exact to rounding while |n2 - 1| < 1e-8, else the square root."""
    if abs(n2 - 1.0) < 1e-8:
        return 1.5 - 0.5 * n2  # 1 - (n2 - 1) / 2, rounded once
    return 1.0 / math.sqrt(n2)


@njit
def _cos_sinc(h2):
    """(cos h, sin(h) / h) from h^2 < _H2_MAX, by their Taylor series."""
    h4 = h2 * h2  # Estrin's scheme: shorter dependency chains than Horner's
    c = (1.0 - 0.5 * h2) + h4 * ((1.0 / 24.0 - h2 * (1.0 / 720.0)) + h4 * (1.0 / 40320.0))
    sc = (1.0 - h2 * (1.0 / 6.0)) + h4 * ((1.0 / 120.0 - h2 * (1.0 / 5040.0)) + h4 * (1.0 / 362880.0))  # fmt: skip
    return c, sc


@njit
def _small_tilt(ex, ey, ez, exy):
    """(w, x, y) of tilt_initial(ex, ey, ez) (its z is 0) for ez > 0 and
    exy = ex^2 + ey^2 < _T_MAX ez^2, by series in t = exy / ez^2 (tan^2 of the tilt):
    w = sqrt((1 + 1 / sqrt(1 + t)) / 2), (x, y) = (ey, -ex) / (2 w |e|)."""
    r = 1.0 / ez
    t = exy * r * r
    t2 = t * t
    cw = (1.0 - t * (1.0 / 8.0)) + t2 * (11.0 / 128.0 - t * (69.0 / 1024.0))
    cr = r * ((0.5 - t * (3.0 / 16.0)) + t2 * (31.0 / 256.0 - t * (187.0 / 2048.0)))
    return cw, ey * cr, -ex * cr


@njit
def _atan2(y, x):
    """atan2(y, x); by the series of atan(y / x) while x > 0 and |y| < _A_MAX x."""
    if x > 0.0 and abs(y) < _A_MAX * x:
        t = y / x
        u = t * t
        u2 = u * u
        u4 = u2 * u2
        a = (1.0 - u * (1.0 / 3.0)) + u2 * (1.0 / 5.0 - u * (1.0 / 7.0))
        b = (1.0 / 9.0 - u * (1.0 / 11.0)) + u2 * (1.0 / 13.0 - u * (1.0 / 15.0))
        return t * (a + u4 * b)
    return math.atan2(y, x)


@njit
def _field_near(fh, fv, f2, rh, rv, lo2, hi2, cos_dip):
    """Whether the field (fh, fv) of squared norm f2 is near the reference (rh, rv): its
    norm within the factors sqrt(lo2)..sqrt(hi2) of the reference's, and its dip within
    the angle whose cosine is cos_dip. Both on squares: no sqrt, no asin."""
    r2 = rh * rh + rv * rv
    if not (lo2 * r2 < f2 < hi2 * r2):
        return False
    d = fh * rh + fv * rv  # |f| |r| cos(dip - dip_ref)
    c2 = cos_dip * cos_dip * (f2 * r2)
    if cos_dip >= 0.0:
        return d > 0.0 and d * d > c2
    return d > 0.0 or d * d < c2


@njit
def _cos_sin(h):
    """(cos h, sin h)."""
    h2 = h * h
    if h2 < _H2_MAX:
        c, sc = _cos_sinc(h2)
        return c, h * sc
    return math.cos(h), math.sin(h)


@njit
def _robust_start(s, ax, ay, az, mx, my, mz, use_mag):
    """Start from the first sample: inclination from the accelerometer, heading from the
    field; with s[0] == 2.0 the orientation in s[5:9] was given and is kept."""
    given = s[0] == 2.0
    s[0] = 1.0
    s[1] = 1.0
    s[2] = s[3] = s[4] = 0.0
    if not given:
        s[5], s[6], s[7], s[8] = tilt_initial(ax, ay, az)
        s[9] = 1.0
        s[31] = 0.0
    for j in range(13, 31):
        s[j] = 0.0
    s[32] = 0.0
    s[10] = s[19] = ax
    s[11] = s[20] = ay
    s[12] = s[21] = az
    if use_mag:
        ex, ey, ez = _rotate(s[5], s[6], s[7], s[8], mx, my, mz)
        if not given:
            s[9], s[31] = _cos_sin(0.5 * math.atan2(ex, ey))
        s[26] = math.sqrt(ex * ex + ey * ey)
        s[27] = ez


@njit(inline="always")
def _robust_run(s, p, gyr, acc, mag, use_mag, out):
    """The robust filter over ``gyr``, ``acc`` (and ``mag``), 3 values a sample in flat
    C arrays (no reshape for one sample); ENU quaternions into ``out``, 4 a sample. The
    state lives in local variables through the loop and goes back to ``s`` after it.

    Every sample integrates the gyroscope, low-passes the accelerometer in I and checks
    for rest; every ``p[16]``-th sample (s[32] counts down to it) also corrects the
    inclination and the heading, with gains and timers for that interval."""
    n = gyr.shape[0] // 3
    if n == 0:
        return
    if s[0] != 1.0:
        mx = my = mz = 0.0
        if use_mag:
            mx = mag[0]
            my = mag[1]
            mz = mag[2]
        _robust_start(s, acc[0], acc[1], acc[2], mx, my, mz, use_mag)
    dt = p[0]
    k_acc = p[1]
    k_mag = p[2]
    k_rest = p[3]
    rest_g2 = p[4] * p[4]
    rest_a2 = p[5] * p[5]
    rest_time = p[6]
    k_bias = p[7]
    lo2 = p[8]
    hi2 = p[9]
    k_ref = p[10]
    new_ref_time = p[11]
    max_reject_time = p[12]
    k_rejected = p[13]
    first_ref_time = p[14]
    cos_dip = p[15]
    every = p[16]
    dt_c = every * dt  # the interval between corrections, s
    half_dt = 0.5 * dt
    half_dt2 = half_dt * half_dt
    g0, g1, g2, g3 = s[1], s[2], s[3], s[4]  # q_gyr
    i0, i1, i2, i3 = s[5], s[6], s[7], s[8]  # q_inc
    hc, hs = s[9], s[31]  # heading: cos and sin of its half
    lx, ly, lz = s[10], s[11], s[12]  # acc low-pass in I
    bx, by, bz = s[13], s[14], s[15]  # gyro bias
    gpx, gpy, gpz = s[16], s[17], s[18]  # gyro low-pass
    apx, apy, apz = s[19], s[20], s[21]  # acc low-pass (sensor)
    rest_t = s[22]
    ref_h, ref_v = s[23], s[24]
    dist_t = s[25]
    cand_h, cand_v, cand_t = s[26], s[27], s[28]
    confirmed = s[29] != 0.0
    used = s[30]
    wait = s[32]  # samples until the next correction
    o0, o1, o2, o3 = _turn_z(hc, hs, i0, i1, i2, i3)  # heading * q_inc
    for i in range(n):
        j = 3 * i
        gx = gyr[j]
        gy = gyr[j + 1]
        gz = gyr[j + 2]
        ax = acc[j]
        ay = acc[j + 1]
        az = acc[j + 2]
        # rest detection and gyroscope bias
        gpx += k_rest * (gx - gpx)
        gpy += k_rest * (gy - gpy)
        gpz += k_rest * (gz - gpz)
        apx += k_rest * (ax - apx)
        apy += k_rest * (ay - apy)
        apz += k_rest * (az - apz)
        dx = gx - gpx
        dy = gy - gpy
        dz = gz - gpz
        dg2 = dx * dx + dy * dy + dz * dz
        dx = ax - apx
        dy = ay - apy
        dz = az - apz
        da2 = dx * dx + dy * dy + dz * dz
        na2 = apx * apx + apy * apy + apz * apz
        lg2 = gpx * gpx + gpy * gpy + gpz * gpz
        if dg2 < rest_g2 and da2 < rest_a2 * na2 and lg2 < rest_g2:
            rest_t += dt
            if rest_t >= rest_time:
                bx += k_bias * (gpx - bx)
                by += k_bias * (gpy - by)
                bz += k_bias * (gpz - bz)
        else:
            rest_t = 0.0
        # strapdown integration of the bias-corrected rate: q_gyr * (cos h, sin h w / |w|)
        # with h = |w| dt / 2
        wx = gx - bx
        wy = gy - by
        wz = gz - bz
        w2 = wx * wx + wy * wy + wz * wz
        if w2 > 0.0:
            h2 = half_dt2 * w2
            if h2 < _H2_MAX:
                c, f = _cos_sinc(h2)
                f *= half_dt
            else:
                w = math.sqrt(w2)
                h = 0.5 * w * dt
                c = math.cos(h)
                f = math.sin(h) / w
            q0, q1, q2, q3 = quat_mul(g0, g1, g2, g3, c, f * wx, f * wy, f * wz)
            r = _renorm(_norm2(q0, q1, q2, q3))
            g0 = q0 * r
            g1 = q1 * r
            g2 = q2 * r
            g3 = q3 * r
        # the accelerometer low-passed in I
        if not (ax == 0.0 and ay == 0.0 and az == 0.0):
            ix, iy, iz = _rotate(g0, g1, g2, g3, ax, ay, az)
            lx += k_acc * (ix - lx)
            ly += k_acc * (iy - ly)
            lz += k_acc * (iz - lz)
        if wait > 0.0:
            wait -= 1.0
        else:
            wait = every - 1.0
            # inclination: the low-passed direction turned to earth z
            ex, ey, ez = _rotate(i0, i1, i2, i3, lx, ly, lz)
            exy = ex * ex + ey * ey
            tilt = True
            if ez > 0.0 and exy < _T_MAX * (ez * ez):
                cw, cx, cy = _small_tilt(ex, ey, ez, exy)
            elif exy + ez * ez > 0.0:
                cw, cx, cy, _ = tilt_initial(ex, ey, ez)
            else:
                tilt = False
            if tilt:  # (cw, cx, cy, 0) * q_inc
                q0 = cw * i0 - (cx * i1 + cy * i2)
                q1 = cw * i1 + (cx * i0 + cy * i3)
                q2 = cw * i2 - (cx * i3 - cy * i0)
                q3 = cw * i3 + (cx * i2 - cy * i1)
                r = _renorm(_norm2(q0, q1, q2, q3))
                i0 = q0 * r
                i1 = q1 * r
                i2 = q2 * r
                i3 = q3 * r
            # heading: the horizontal field turned to north, when the field looks undisturbed
            m2 = 0.0
            if use_mag:
                mx = mag[j]
                my = mag[j + 1]
                mz = mag[j + 2]
                m2 = mx * mx + my * my + mz * mz
            if m2 > 0.0:
                q0, q1, q2, q3 = quat_mul(i0, i1, i2, i3, g0, g1, g2, g3)
                ex, ey, ez = _rotate(q0, q1, q2, q3, mx, my, mz)
                fh = math.sqrt(ex * ex + ey * ey)  # the field: horizontal, vertical (ez)
                # heading error: the field's direction in the current earth frame vs north
                cd = hc * hc - hs * hs
                sd = 2.0 * hc * hs
                err = _atan2(cd * ex - sd * ey, sd * ex + cd * ey)
                if cand_h == 0.0 and cand_v == 0.0:  # no candidate yet (no field so far)
                    cand_h = fh
                    cand_v = ez
                # the candidate: the field as it is now, timed while it stays steady
                if _field_near(fh, ez, m2, cand_h, cand_v, lo2, hi2, cos_dip):
                    cand_t += dt_c
                    cand_h += k_ref * (fh - cand_h)
                    cand_v += k_ref * (ez - cand_v)
                else:
                    cand_h = fh
                    cand_v = ez
                    cand_t = 0.0
                was_confirmed = confirmed
                ok = (not confirmed) or _field_near(fh, ez, m2, ref_h, ref_v, lo2, hi2, cos_dip)
                # a steady candidate becomes the reference: soon at the start (the first
                # sample may sit in a disturbance), only after long when it differs from one
                if cand_t > (new_ref_time if confirmed else first_ref_time) and not (ok and confirmed):  # fmt: skip
                    ref_h = cand_h
                    ref_v = cand_v
                    confirmed = True
                    ok = True
                turn = 0.0
                if ok:
                    dist_t = 0.0
                    used += 1.0
                    # fast start: the heading averages the fields seen so far until that
                    # is slower
                    turn = k_mag * err if used * k_mag >= 1.0 else err / used
                    if was_confirmed:
                        ref_h += k_ref * (fh - ref_h)
                        ref_v += k_ref * (ez - ref_v)
                else:
                    dist_t += dt_c
                    if dist_t > max_reject_time:  # disturbed for long: follow it slowly
                        turn = k_rejected * err
                if turn != 0.0:
                    c, z = _cos_sin(0.5 * turn)
                    hc, hs = hc * c - hs * z, hs * c + hc * z
                    r = _renorm(hc * hc + hs * hs)
                    hc *= r
                    hs *= r
            o0, o1, o2, o3 = _turn_z(hc, hs, i0, i1, i2, i3)
        j = 4 * i
        out[j], out[j + 1], out[j + 2], out[j + 3] = quat_mul(o0, o1, o2, o3, g0, g1, g2, g3)
    s[1], s[2], s[3], s[4] = g0, g1, g2, g3
    s[5], s[6], s[7], s[8] = i0, i1, i2, i3
    s[9], s[31] = hc, hs
    s[10], s[11], s[12] = lx, ly, lz
    s[13], s[14], s[15] = bx, by, bz
    s[16], s[17], s[18] = gpx, gpy, gpz
    s[19], s[20], s[21] = apx, apy, apz
    s[22] = rest_t
    s[23], s[24] = ref_h, ref_v
    s[25] = dist_t
    s[26], s[27], s[28] = cand_h, cand_v, cand_t
    s[29] = 1.0 if confirmed else 0.0
    s[30] = used
    s[32] = wait


@njit
def _turn_z(c, s, q0, q1, q2, q3):
    """(c, 0, 0, s) * q: q turned about z."""
    return c * q0 - s * q3, c * q1 - s * q2, c * q2 + s * q1, c * q3 + s * q0


@njit
def _robust_out(s):
    o0, o1, o2, o3 = _turn_z(s[9], s[31], s[5], s[6], s[7], s[8])
    return quat_mul(o0, o1, o2, o3, s[1], s[2], s[3], s[4])


@njit
def robust_batch(s, p, gyr, acc, mag, use_mag, out):
    """Run the robust filter over ``gyr``, ``acc`` (and ``mag``); ENU into ``out``."""
    _robust_run(s, p, gyr.ravel(), acc.ravel(), mag.ravel(), use_mag, out.ravel())


# --- input checks and the one-sample calls ----------------------------------------------


@njit
def _bad_vec(v):
    return not (math.isfinite(v[0]) and math.isfinite(v[1]) and math.isfinite(v[2]))


@njit
def check_batch(gyr, acc, mag, use_mag):
    """(code, row) of the first bad sample of a batch, (OK, -1) when none is."""
    for i in range(gyr.shape[0]):
        for j in range(3):
            g = gyr[i, j]
            if not (math.isfinite(g) and math.isfinite(acc[i, j])):
                return ERR_FINITE, i
            if use_mag and not math.isfinite(mag[i, j]):
                return ERR_FINITE, i
            if abs(g) > GYR_MAX:
                return ERR_GYR, i
    return OK, -1


@njit
def _check_one(g, a, m, use_mag):
    if g.shape[0] != 3 or a.shape[0] != 3 or (m.shape[0] != 0 and m.shape[0] != 3):
        return ERR_SHAPE
    if _bad_vec(g) or _bad_vec(a) or (use_mag and _bad_vec(m)):
        return ERR_FINITE
    for j in range(3):
        if abs(g[j]) > GYR_MAX:
            return ERR_GYR
    return OK


# One-sample kernels take ``sp``: the settings, then the state, then (robust filter) 4
# scratch values (``np`` settings: 3 for Madgwick and Mahony, ROBUST_PARAMS for the
# robust filter), and ``m`` of shape (0,) when there is no magnetometer. They return the
# ENU quaternion as a tuple, or ``(nan, code, nan, nan)`` when the sample is bad (the
# state is then untouched): no output array to pass or box makes the call from Python
# faster. Their signature is fixed, so a call with other types raises TypeError instead
# of compiling.
_ONE = "UniTuple(float64, 4)(float64[::1], float64[::1], float64[::1], float64[::1])"
_NAN = math.nan


@njit(_ONE)
def madgwick_one(sp, g, a, m):
    """One sample of Madgwick from (3,) arrays; the ENU quaternion ``(w, x, y, z)``."""
    use_mag = m.shape[0] == 3
    code = _check_one(g, a, m, use_mag)
    if code != OK:
        return _NAN, float(code), _NAN, _NAN
    p = sp[:3]
    s = sp[3:]
    mx = my = mz = 0.0
    if use_mag:
        mx = m[0]
        my = m[1]
        mz = m[2]
    if s[0] == 0.0:
        _nwu_start(s, a[0], a[1], a[2], mx, my, mz, use_mag)
    _madgwick_step(s, p[0], p[1], p[2], g[0], g[1], g[2], a[0], a[1], a[2], mx, my, mz, use_mag)
    return _nwu_to_enu(s)


@njit(_ONE)
def mahony_one(sp, g, a, m):
    """One sample of Mahony; as :func:`madgwick_one`."""
    use_mag = m.shape[0] == 3
    code = _check_one(g, a, m, use_mag)
    if code != OK:
        return _NAN, float(code), _NAN, _NAN
    p = sp[:3]
    s = sp[3:]
    mx = my = mz = 0.0
    if use_mag:
        mx = m[0]
        my = m[1]
        mz = m[2]
    if s[0] == 0.0:
        _nwu_start(s, a[0], a[1], a[2], mx, my, mz, use_mag)
    _mahony_step(s, p[0], p[1], p[2], g[0], g[1], g[2], a[0], a[1], a[2], mx, my, mz, use_mag)
    return _nwu_to_enu(s)


@njit(_ONE)
def robust_one(sp, g, a, m):
    """One sample of the robust filter; as :func:`madgwick_one`. The last 4 values of
    ``sp`` are scratch for the output."""
    use_mag = m.shape[0] == 3
    code = _check_one(g, a, m, use_mag)
    if code != OK:
        return _NAN, float(code), _NAN, _NAN
    n = sp.shape[0]
    q = sp[n - 4 :]
    _robust_run(sp[ROBUST_PARAMS : n - 4], sp[:ROBUST_PARAMS], g, a, m, use_mag, q)
    return q[0], q[1], q[2], q[3]


# --- single axis ------------------------------------------------------------------------
# complementary: s [initialised, angle], p [alpha, dt]
# kalman: s [initialised, angle, bias, P00, P01, P10, P11], p [q_angle, q_bias, r, dt]


@njit
def complementary_batch(s, p, rate, angle, out):
    """angle = alpha (angle + rate dt) + (1 - alpha) measured; starts at the first
    measurement."""
    alpha = p[0]
    dt = p[1]
    for i in range(rate.shape[0]):
        if s[0] == 0.0:
            s[0] = 1.0
            s[1] = angle[i]
        s[1] = alpha * (s[1] + rate[i] * dt) + (1.0 - alpha) * angle[i]
        out[i] = s[1]


@njit
def kalman_batch(s, p, rate, angle, out):
    """Linear Kalman filter of [angle, gyro bias]: predict with the rate, correct with
    the measured angle."""
    qa = p[0]
    qb = p[1]
    r = p[2]
    dt = p[3]
    for i in range(rate.shape[0]):
        if s[0] == 0.0:
            s[0] = 1.0
            s[1] = angle[i]
        # predict: x = F x + B u, P = F P F' + Q with F = [[1, -dt], [0, 1]], B = [dt, 0]
        s[1] += dt * (rate[i] - s[2])
        p00 = s[3] - dt * (s[5] + s[4]) + dt * dt * s[6] + qa * dt
        p01 = s[4] - dt * s[6]
        p10 = s[5] - dt * s[6]
        p11 = s[6] + qb * dt
        # correct with z = angle: H = [1, 0]
        sk = p00 + r
        k0 = p00 / sk
        k1 = p10 / sk
        y = angle[i] - s[1]
        s[1] += k0 * y
        s[2] += k1 * y
        s[3] = p00 - k0 * p00
        s[4] = p01 - k0 * p01
        s[5] = p10 - k1 * p00
        s[6] = p11 - k1 * p01
        out[i] = s[1]
