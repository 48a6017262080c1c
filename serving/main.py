"""The scoring service: `uvicorn serving.main:create_app --factory`. Routes are thin; scoring lives in
riskops.scoring.online, the service's state in serving.state."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI

from riskops import __version__
from riskops.core.config import Settings
from riskops.core.logs import configure_json_logging
from serving.bodies import document_bodies
from serving.deps import require_key
from serving.errors import add_handlers
from serving.middleware import Observe
from serving.routes import book, customers, health, models, review, scores
from serving.state import Service


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.load()
    configure_json_logging(settings.log_level)  # first: building the state may already log
    service = Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.open()
        await asyncio.to_thread(service.refresh)
        # Move everything loaded so far (libraries, the model) out of the collector's reach: a full collection
        # over it otherwise pauses a request for ~100 ms every few hundred requests.
        gc.freeze()

        async def poll() -> None:
            while True:
                await asyncio.sleep(settings.model_poll_s)
                await asyncio.to_thread(service.refresh)

        task = asyncio.create_task(poll())
        yield
        task.cancel()
        service.close()

    app = FastAPI(title="riskops scoring", version=__version__, root_path=settings.root_path, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(Observe, access_log=settings.access_log)
    add_handlers(app)
    for resource in (scores, customers, book, review, models):
        app.include_router(resource.router, dependencies=[Depends(require_key)])
    app.include_router(health.router)
    document_bodies(app)
    return app
