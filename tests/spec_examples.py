"""The spec's usage examples, verbatim (tests/integration/test_factories.py checks them against the spec)."""

BASIC_COMPLETION = '''\
from app.core.portkey_config import get_portkey_manager

manager = get_portkey_manager()
response = manager.create_completion(
    provider="openai",
    model="gpt-4-turbo",
    messages=[{"role": "user", "content": "Hello"}],
    temperature=0.7
)
'''

ARTEMIS = '''\
from app.artemis.portkey_unified_factory import get_portkey_artemis_factory
from app.artemis.portkey_unified_factory import TechnicalAgentRole

factory = get_portkey_artemis_factory()

# Create tactical agent
agent = await factory.create_agent_with_portkey(
    name="SecurityScanner",
    role=TechnicalAgentRole.SECURITY_AUDITOR,
    specialty="vulnerability_detection"
)

# Execute task
result = await factory.execute_with_portkey(
    agent=agent,
    prompt="Analyze this code for security vulnerabilities",
    max_tokens=2000
)
'''

SOPHIA = '''\
from app.sophia.portkey_unified_factory import get_portkey_sophia_factory
from app.sophia.portkey_unified_factory import BusinessAgentRole

factory = get_portkey_sophia_factory()

# Create business analyst
agent = await factory.create_business_agent(
    name="MarketAnalyst",
    role=BusinessAgentRole.MARKET_ANALYST,
    business_domain="technology"
)

# Generate insight
insight = await factory.generate_business_insight(
    agent=agent,
    query="What are the key trends in AI adoption?",
    context={"industry": "enterprise_software"}
)
'''

HEALTH = '''\
# Check all systems
artemis_factory = get_portkey_artemis_factory()
health = await artemis_factory.health_check()
'''


def run_async_example(code: str, namespace: dict) -> dict:
    """Run an example that uses top-level ``await`` inside ``asyncio.run``, as a user would."""
    import asyncio
    import textwrap

    body = textwrap.indent(code, "    ")
    exec(f"async def __example():\n{body}\n    return locals()\n", namespace)
    return asyncio.run(namespace["__example"]())
