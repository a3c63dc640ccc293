"""Micro-batching: 32 asyncio tasks share one MLP; then a hot swap under load.

Builds a small MLP with onnx.helper (no download), serves it to 32 concurrent
tasks with ``await engine.async_run(x)``, compares throughput with each task calling
``engine.run`` itself, then swaps in a second model while the tasks keep running.

    python examples/infer_batching.py [--seconds 1.0]

Needs: pip install "edgekit[onnx]" (ONNX Runtime, and onnx to build the model).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import numpy as np

from edgekit.infer import InferenceEngine


def mlp(seed: int, n_in: int = 256, hidden: int = 512, n_out: int = 16) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    dims = [n_in, hidden, hidden, n_out]
    inits, nodes, current = [], [], "x"
    for i in range(3):
        w = (rng.standard_normal((dims[i], dims[i + 1])) / np.sqrt(dims[i])).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        out = "y" if i == 2 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Relu" if i < 2 else "Identity", [f"m{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


async def serve(call, seconds: float = 1.0, callers: int = 32) -> float:
    done = 0
    stop = asyncio.Event()

    async def caller(i: int) -> None:
        nonlocal done
        x = np.random.default_rng(i).standard_normal((1, 256)).astype(np.float32)
        while not stop.is_set():
            await call(x)
            done += 1

    tasks = [asyncio.create_task(caller(i)) for i in range(callers)]
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return done / (time.perf_counter() - start)


async def run(seconds: float) -> None:
    engine = InferenceEngine(mlp(1), max_batch=32, max_delay_us=1000)

    async def unbatched(x):
        out = engine.run(x)
        await asyncio.sleep(0)
        return out

    plain = await serve(unbatched, seconds)
    batched = await serve(engine.async_run, seconds)
    print(f"32 tasks: {plain:,.0f} req/s unbatched, {batched:,.0f} req/s micro-batched")

    load = asyncio.create_task(serve(engine.async_run, seconds))
    await asyncio.sleep(0.3 * seconds)
    await engine.async_swap(mlp(2))  # loaded and warmed off the event loop
    print(f"served {await load:,.0f} req/s across the swap; digest now {engine.digest}")
    stats = engine.stats()
    print(stats)
    print("batch sizes:", stats.batch_sizes)
    engine.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="length of each measurement (default: 1.0)"
    )
    args = parser.parse_args(argv)
    try:
        import onnx  # noqa: F401
    except ImportError:
        sys.exit('this example needs onnx: pip install "edgekit[onnx]"')
    asyncio.run(run(args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
