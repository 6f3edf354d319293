"""Word and sentence pools for the synthetic job-posting generator (data only).

Sentence templates are ``str.format`` strings; the placeholders they may use are filled
by ``synth._posting_text``. Skill names must appear in a posting only where the posting
lists its own skills, so no template here may contain a skill name (the tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- job families -------------------------------------------------------------------

LEVELS = ("entry", "mid", "senior", "staff", "principal")
BUSINESS_LEVELS = ("entry", "mid", "senior", "staff")
# How likely each level is among postings (renormalized over a family's levels).
LEVEL_WEIGHTS = {"entry": 0.18, "mid": 0.30, "senior": 0.30, "staff": 0.14, "principal": 0.08}
TITLE_PREFIXES = {
    "entry": ("Junior", "Associate", "Entry-Level"),
    "mid": ("",),
    "senior": ("Senior", "Sr."),
    "staff": ("Staff", "Lead"),
    "principal": ("Principal",),
}
BUSINESS_STAFF_PREFIXES = ("Lead",)
LEVEL_LABELS = {
    "entry": "Entry level",
    "mid": "Mid level",
    "senior": "Senior",
    "staff": "Staff",
    "principal": "Principal",
}
LEVEL_CODES = {"entry": "IC1", "mid": "IC2", "senior": "IC3", "staff": "IC4", "principal": "IC5"}
SALARY_MULTIPLIERS = {"entry": 0.75, "mid": 1.0, "senior": 1.28, "staff": 1.55, "principal": 1.8}
# Minimum years of experience asked for at each level.
LEVEL_YEARS = {
    "entry": (0, 1), "mid": (2, 3), "senior": (5, 6), "staff": (8, 9), "principal": (10, 12),
}
QUERY_LEVEL_WORDS = {
    "entry": ("entry level", "junior", "new grad", "entry-level"),
    "mid": ("mid level", "mid-level"),
    "senior": ("senior", "sr"),
    "staff": ("staff", "lead"),
    "principal": ("principal",),
}


@dataclass(frozen=True)
class Family:
    key: str
    cluster: str
    titles: tuple[str, ...]  # title variants, e.g. "Data Platform Engineer"
    query_names: tuple[str, ...]  # what searchers type, e.g. "ETL developer"
    field: str  # "data engineering", as in "5+ years of experience in ..."
    plural: str  # "data engineers", as in "partner with ..."
    skills: tuple[str, ...]
    responsibilities: tuple[str, ...]
    base_salary: int  # mid-level, USD per year
    technical: bool = True
    levels: tuple[str, ...] = LEVELS


FAMILIES: tuple[Family, ...] = (
    # --- data ---
    Family(
        "data_engineer", "data",
        ("Data Engineer", "Data Platform Engineer", "Big Data Engineer"),
        ("data engineer", "data platform engineer", "big data engineer", "ETL developer"),
        "data engineering", "data engineers",
        ("Spark", "Airflow", "Kafka", "dbt", "Snowflake", "Python", "SQL", "Scala",
         "Databricks", "BigQuery", "Redshift", "Flink"),
        (
            "Design, build and operate batch and streaming pipelines that move billions of events "
            "a day",
            "Own the ingestion layer that brings data from product databases and third-party APIs "
            "into the warehouse",
            "Model core business entities so that analysts can answer questions without "
            "hand-written joins",
            "Improve data quality with automated checks, lineage tracking and clear ownership",
            "Reduce warehouse compute cost by tuning partitioning, clustering and job schedules",
            "Build self-serve tooling that lets other teams publish and discover datasets",
            "Define service-level objectives for critical datasets and respond when they are "
            "missed",
            "Migrate legacy cron jobs to a modern orchestration layer with retries and backfills",
            "Work with security and legal to handle personal data in line with privacy regulations",
        ),
        145_000,
    ),
    Family(
        "data_scientist", "data",
        ("Data Scientist", "Product Data Scientist", "Decision Scientist"),
        ("data scientist", "product data scientist", "data science"),
        "data science", "data scientists",
        ("Python", "SQL", "pandas", "scikit-learn", "A/B testing", "causal inference",
         "Bayesian statistics", "Tableau", "XGBoost", "time series forecasting", "Jupyter"),
        (
            "Frame ambiguous product questions as measurable hypotheses and answer them with data",
            "Design and analyze controlled experiments, and explain the results to decision makers",
            "Build predictive models for churn, lifetime value and demand",
            "Define the metrics that tell us whether a feature is working",
            "Dig into user behavior to find the next big opportunity for the product",
            "Present findings to leadership in clear, honest narratives",
            "Develop forecasting methods that feed the annual planning process",
            "Raise the bar for analytical rigor through peer review of methods",
            "Estimate the impact of launches when a randomized test is not possible",
        ),
        150_000,
    ),
    Family(
        "analytics_engineer", "data",
        ("Analytics Engineer", "Business Intelligence Engineer", "Analytics Data Engineer"),
        ("analytics engineer", "BI engineer", "business intelligence engineer"),
        "analytics engineering", "analytics engineers",
        ("dbt", "SQL", "Looker", "Snowflake", "BigQuery", "Airflow", "dimensional modeling",
         "Python", "Tableau", "Fivetran"),
        (
            "Build and maintain the transformation layer that turns raw tables into trusted models",
            "Write tested, documented data models that serve as the single source of truth for "
            "metrics",
            "Define and centralize business logic for revenue, retention and engagement metrics",
            "Set up code review, testing and deployment conventions for the analytics codebase",
            "Partner with finance to reconcile reported numbers with the general ledger",
            "Build curated datasets that power self-serve reporting",
            "Monitor freshness and accuracy of key reports and fix issues before stakeholders "
            "notice",
            "Teach analysts software engineering practices such as version control and modular "
            "code",
            "Retire duplicate and stale reports to keep the analytics catalog clean",
        ),
        135_000,
    ),
    Family(
        "data_analyst", "data",
        ("Data Analyst", "Business Analyst", "Reporting Analyst"),
        ("data analyst", "business analyst", "reporting analyst", "analyst"),
        "data analysis", "data analysts",
        ("SQL", "Excel", "Tableau", "Power BI", "Python", "Looker", "Google Analytics",
         "Alteryx", "descriptive statistics", "Google Sheets"),
        (
            "Build and maintain dashboards that track the health of the business",
            "Answer ad hoc questions from sales, marketing and operations teams",
            "Turn messy spreadsheets into clean, repeatable reports",
            "Analyze funnel conversion and identify where customers drop off",
            "Prepare the weekly business review deck for the leadership team",
            "Document metric definitions so everyone reads numbers the same way",
            "Investigate anomalies in key metrics and explain their root cause",
            "Support pricing and promotion decisions with clear before-and-after analysis",
            "Automate recurring reporting to free up time for deeper analysis",
        ),
        95_000,
    ),
    # --- machine learning ---
    Family(
        "ml_engineer", "ml",
        ("Machine Learning Engineer", "ML Engineer", "AI Engineer"),
        ("machine learning engineer", "ML engineer", "AI engineer", "MLE"),
        "machine learning engineering", "machine learning engineers",
        ("PyTorch", "TensorFlow", "Python", "Kubernetes", "MLflow", "Spark", "CUDA",
         "LLM fine-tuning", "feature stores", "Ray", "ONNX"),
        (
            "Train, evaluate and ship models that rank and personalize content for millions of "
            "users",
            "Build feature pipelines and training datasets with strong guarantees on freshness",
            "Optimize model inference for latency and cost on GPUs and CPUs",
            "Own the offline and online evaluation of models, including shadow traffic and "
            "canaries",
            "Turn research prototypes into reliable, monitored production services",
            "Set up retraining schedules and drift detection for models in production",
            "Profile training runs and remove bottlenecks in data loading and communication",
            "Contribute to the design of our next-generation model serving platform",
            "Build retrieval and ranking components for search and recommendation surfaces",
        ),
        170_000,
    ),
    Family(
        "applied_scientist", "ml",
        ("Applied Scientist", "Research Scientist", "Machine Learning Scientist"),
        ("applied scientist", "research scientist", "ML scientist", "machine learning scientist"),
        "applied machine learning research", "applied scientists",
        ("PyTorch", "JAX", "deep learning", "NLP", "computer vision", "recommender systems",
         "reinforcement learning", "Python", "large language models", "information retrieval"),
        (
            "Invent new modeling approaches for ranking, pricing or forecasting problems at scale",
            "Read the latest literature and turn promising ideas into experiments on our data",
            "Design offline metrics that predict online impact",
            "Publish internally and, when it makes sense, at top conferences",
            "Run large-scale training experiments and analyze failure modes rigorously",
            "Develop evaluation datasets and human annotation guidelines",
            "Quantify uncertainty in model predictions and communicate its limits",
            "Write research proposals that connect scientific bets to business goals",
        ),
        180_000,
    ),
    Family(
        "mlops_engineer", "ml",
        ("MLOps Engineer", "ML Platform Engineer", "ML Infrastructure Engineer"),
        ("MLOps engineer", "ML platform engineer", "ML infrastructure engineer", "MLOps"),
        "ML infrastructure", "ML platform engineers",
        ("Kubernetes", "Kubeflow", "MLflow", "Docker", "Terraform", "Python", "Airflow", "Ray",
         "SageMaker", "Triton Inference Server", "Prometheus"),
        (
            "Build and operate the platform our scientists use to train, register and deploy "
            "models",
            "Automate model packaging, validation and rollout with safe rollback paths",
            "Run GPU clusters efficiently: scheduling, quotas, autoscaling and cost reporting",
            "Provide observability for model quality, latency and data drift",
            "Standardize how experiments are tracked and how artifacts are versioned",
            "Harden the serving stack for high availability across regions",
            "Write clear runbooks and take part in an on-call rotation for the ML platform",
            "Reduce time from trained model to production from weeks to hours",
            "Work with security to manage secrets and access for training data",
        ),
        160_000,
    ),
    # --- software ---
    Family(
        "backend_engineer", "software",
        ("Backend Engineer", "Backend Software Engineer", "Server-Side Engineer"),
        ("backend engineer", "backend developer", "back-end engineer", "server side developer"),
        "backend development", "backend engineers",
        ("Java", "Golang", "Python", "PostgreSQL", "Kafka", "gRPC", "microservices", "Redis",
         "AWS", "Kotlin", "DynamoDB"),
        (
            "Design and build APIs that power our web and mobile apps",
            "Own services end to end, from design to deployment to on-call",
            "Scale our systems to handle ten times today's traffic",
            "Model data and choose the right storage for each access pattern",
            "Improve reliability with better timeouts, retries and graceful degradation",
            "Break up a monolith into well-defined services with clear ownership",
            "Write thorough tests and keep the build fast and green",
            "Profile hot paths and cut tail latency",
            "Integrate with third-party payment, messaging and identity providers",
        ),
        150_000,
    ),
    Family(
        "frontend_engineer", "software",
        ("Frontend Engineer", "Front-End Developer", "UI Engineer"),
        ("frontend engineer", "frontend developer", "front end developer", "UI engineer"),
        "frontend development", "frontend engineers",
        ("React", "TypeScript", "JavaScript", "CSS", "Next.js", "GraphQL", "Webpack", "WCAG",
         "Vue.js", "Storybook", "Jest"),
        (
            "Build fast, polished user interfaces for our core product",
            "Turn designs into accessible, responsive components",
            "Own our component library and keep it consistent across the app",
            "Improve page load performance and measure it with real-user monitoring",
            "Work on client-side state management and data fetching",
            "Write unit and end-to-end tests for critical user flows",
            "Collaborate closely with designers on interaction details and motion",
            "Improve the build pipeline and developer tooling for the web codebase",
            "Ship experiments quickly and clean them up once they are decided",
        ),
        140_000,
    ),
    Family(
        "fullstack_engineer", "software",
        ("Full-Stack Engineer", "Full Stack Developer", "Software Engineer, Full Stack"),
        ("full stack engineer", "full-stack developer", "fullstack engineer",
         "full stack developer"),
        "full-stack development", "full-stack engineers",
        ("React", "Node.js", "TypeScript", "PostgreSQL", "Python", "Django", "GraphQL", "AWS",
         "Ruby on Rails", "Redis", "Docker"),
        (
            "Ship features end to end, from database schema to user interface",
            "Build internal tools that make our operations team faster",
            "Own small products from idea to launch with a cross-functional squad",
            "Design APIs and the screens that consume them",
            "Keep the codebase healthy with tests, refactoring and documentation",
            "Investigate production issues across the whole stack",
            "Help define engineering standards as the team grows",
            "Work directly with customers to understand their workflow",
            "Balance speed and quality when shipping to early customers",
        ),
        140_000,
    ),
    Family(
        "mobile_engineer", "software",
        ("Mobile Engineer", "Mobile Software Engineer", "Mobile Developer"),
        ("mobile engineer", "mobile developer", "mobile app developer", "app developer"),
        "mobile development", "mobile engineers",
        ("Swift", "Kotlin", "SwiftUI", "Jetpack Compose", "React Native", "Flutter",
         "Objective-C", "Xcode", "Firebase", "Android SDK"),
        (
            "Build and ship features in our native apps used by millions of people",
            "Own app performance: startup time, memory use and battery impact",
            "Implement offline support and background sync",
            "Work with designers to deliver smooth, platform-native interactions",
            "Maintain release trains, feature flags and staged rollouts in the app stores",
            "Write automated UI and unit tests for the app",
            "Improve crash rates and monitor app health after each release",
            "Agree on API contracts for mobile clients with the teams that build them",
            "Modularize the app codebase to speed up builds",
        ),
        145_000,
    ),
    Family(
        "embedded_engineer", "software",
        ("Embedded Software Engineer", "Firmware Engineer", "Embedded Systems Engineer"),
        ("embedded software engineer", "firmware engineer", "embedded engineer",
         "firmware developer"),
        "embedded software development", "firmware engineers",
        ("embedded C", "C++", "FreeRTOS", "embedded Linux", "ARM Cortex-M", "Yocto", "CAN bus",
         "Python", "device drivers", "JTAG"),
        (
            "Write firmware for microcontrollers in our connected devices",
            "Bring up new boards and debug hardware issues with the electrical team",
            "Develop low-level code for sensors, radios and power management",
            "Build over-the-air update mechanisms that never brick a device",
            "Optimize code for memory, power and real-time constraints",
            "Design hardware-in-the-loop test rigs and automate regression testing",
            "Work with manufacturing to support production test and calibration",
            "Review schematics from a firmware perspective",
            "Investigate field failures using logs and returned units",
        ),
        135_000,
    ),
    # --- infrastructure and security ---
    Family(
        "sre", "infra",
        ("Site Reliability Engineer", "SRE", "Production Engineer"),
        ("site reliability engineer", "SRE", "reliability engineer", "production engineer"),
        "site reliability engineering", "site reliability engineers",
        ("Kubernetes", "Prometheus", "Terraform", "Linux", "Golang", "Python", "Grafana", "AWS",
         "Datadog", "chaos engineering", "PagerDuty"),
        (
            "Keep our production systems fast, available and cost-efficient",
            "Define service-level objectives with product teams and track error budgets",
            "Lead incident response and write blameless postmortems",
            "Automate away toil in deployments, scaling and failover",
            "Build observability: metrics, logs, traces and actionable alerts",
            "Plan capacity for peak events and run load tests",
            "Participate in a follow-the-sun on-call rotation",
            "Run game days to test how systems behave under failure",
            "Review architecture for reliability risks before launch",
        ),
        155_000,
    ),
    Family(
        "devops_engineer", "infra",
        ("DevOps Engineer", "Build and Release Engineer", "Platform Engineer"),
        ("devops engineer", "DevOps", "platform engineer", "release engineer"),
        "DevOps", "DevOps engineers",
        ("Jenkins", "Terraform", "Ansible", "Docker", "Kubernetes", "GitHub Actions", "AWS",
         "Bash", "Helm", "Argo CD", "Packer"),
        (
            "Build and maintain delivery pipelines for dozens of services",
            "Manage infrastructure as code and review changes from other teams",
            "Speed up builds and tests so engineers get feedback in minutes",
            "Standardize container images and base operating systems",
            "Automate environment provisioning for development and staging",
            "Improve release safety with progressive delivery and automatic rollback",
            "Maintain secrets management and access controls for pipelines",
            "Support engineering teams with deployment and configuration questions",
            "Track and reduce cloud spend across accounts",
        ),
        140_000,
    ),
    Family(
        "cloud_engineer", "infra",
        ("Cloud Engineer", "Cloud Infrastructure Engineer", "Cloud Solutions Engineer"),
        ("cloud engineer", "cloud infrastructure engineer", "cloud architect"),
        "cloud infrastructure", "cloud engineers",
        ("AWS", "Azure", "Google Cloud", "Terraform", "Kubernetes", "CloudFormation", "Python",
         "VPC networking", "Pulumi", "FinOps"),
        (
            "Design and operate our multi-account cloud landing zone",
            "Build network architecture: private links, peering, routing and DNS",
            "Migrate workloads from on-premises data centers to the cloud",
            "Define guardrails for identity, encryption and logging",
            "Automate provisioning with reusable infrastructure modules",
            "Optimize cost with rightsizing, reservations and spot capacity",
            "Plan disaster recovery and test it regularly",
            "Advise application teams on choosing managed services",
            "Keep documentation and architecture diagrams current",
        ),
        145_000,
    ),
    Family(
        "security_engineer", "infra",
        ("Security Engineer", "Application Security Engineer", "Cloud Security Engineer"),
        ("security engineer", "appsec engineer", "cybersecurity engineer", "infosec engineer"),
        "security engineering", "security engineers",
        ("threat modeling", "SIEM", "penetration testing", "Python", "AWS", "zero trust",
         "Splunk", "OWASP", "SOC 2", "Burp Suite", "CrowdStrike"),
        (
            "Review designs and code for security issues before they ship",
            "Build detection rules and respond to security alerts",
            "Run vulnerability management and track fixes to completion",
            "Harden cloud accounts and enforce least-privilege access",
            "Lead tabletop exercises and improve our incident playbooks",
            "Support compliance audits with evidence and clear controls",
            "Build tools that make the secure path the easy path for engineers",
            "Triage reports from our bug bounty program",
            "Educate engineers through training and secure coding guidelines",
        ),
        155_000,
    ),
    # --- product and design ---
    Family(
        "product_manager", "product",
        ("Product Manager", "Technical Product Manager", "Product Owner"),
        ("product manager", "PM", "product owner", "technical product manager"),
        "product management", "product managers",
        ("SQL", "Jira", "Amplitude", "Mixpanel", "A/B testing", "roadmapping", "OKRs",
         "Productboard", "Pendo", "Figma"),
        (
            "Own the roadmap for a product area and explain the why behind every priority",
            "Talk to customers every week to understand their problems",
            "Write clear product requirements and define success metrics",
            "Work with engineering and design to scope and ship iteratively",
            "Analyze usage data to decide what to build next",
            "Coordinate launches with marketing, sales and support",
            "Make tradeoffs between scope, quality and time",
            "Track competitors and market trends in {industry}",
            "Retire features that no longer earn their keep",
        ),
        150_000,
        technical=False,
    ),
    Family(
        "ux_designer", "product",
        ("UX Designer", "Product Designer", "UX/UI Designer"),
        ("UX designer", "product designer", "UI/UX designer", "designer"),
        "product design", "designers",
        ("Figma", "Sketch", "Adobe XD", "prototyping", "design systems", "usability testing",
         "interaction design", "Framer", "Miro", "WCAG"),
        (
            "Design end-to-end experiences, from early concepts to polished screens",
            "Create flows, wireframes and high-fidelity mockups",
            "Contribute to and evolve our shared component library",
            "Run design critiques and give thoughtful feedback",
            "Partner with researchers to test ideas with real users",
            "Work with engineers during implementation to get details right",
            "Advocate for accessibility and inclusive design",
            "Define interaction patterns for new product areas",
            "Present design rationale to stakeholders",
        ),
        125_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
    Family(
        "ux_researcher", "product",
        ("UX Researcher", "User Researcher", "Design Researcher"),
        ("UX researcher", "user researcher", "design researcher"),
        "user research", "UX researchers",
        ("usability testing", "user interviews", "survey design", "Dovetail", "Qualtrics",
         "UserTesting", "journey mapping", "diary studies", "card sorting", "Miro"),
        (
            "Plan and run research studies that shape product strategy",
            "Synthesize findings into insights teams can act on",
            "Choose the right method for each question, qualitative or quantitative",
            "Recruit participants and manage the research panel",
            "Build a shared repository of research so insights are not lost",
            "Share findings through workshops, reports and highlight reels",
            "Partner with designers and product managers throughout the product cycle",
            "Measure the experience over time with benchmark studies",
            "Coach teammates to run lightweight research themselves",
        ),
        125_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
    Family(
        "program_manager", "product",
        ("Technical Program Manager", "Program Manager", "Engineering Program Manager"),
        ("technical program manager", "TPM", "program manager"),
        "program management", "program managers",
        ("Jira", "Confluence", "Smartsheet", "Asana", "risk management", "Scrum",
         "Microsoft Project", "Kanban", "OKRs", "Airtable"),
        (
            "Drive complex programs that span several engineering teams",
            "Build program plans, track milestones and surface risks early",
            "Run weekly program reviews and keep stakeholders informed",
            "Coordinate launches across engineering, legal and operations",
            "Identify dependencies between teams and resolve conflicts",
            "Improve planning and execution processes across the organization",
            "Write crisp status updates for executives",
            "Manage vendor relationships for program deliverables",
            "Keep the critical path clear by removing blockers",
        ),
        145_000,
        technical=False,
    ),
    # --- business ---
    Family(
        "account_executive", "business",
        ("Account Executive", "Sales Executive", "Enterprise Account Executive"),
        ("account executive", "sales", "AE", "sales executive", "B2B sales"),
        "B2B sales", "account executives",
        ("Salesforce", "HubSpot", "MEDDIC", "Gong", "Salesloft", "ZoomInfo",
         "LinkedIn Sales Navigator", "solution selling", "Clari"),
        (
            "Own a territory of mid-market and enterprise accounts",
            "Run the full sales cycle from first call to signed contract",
            "Build pipeline through outbound prospecting and events",
            "Lead discovery calls and tailored product demos",
            "Forecast accurately and keep the CRM up to date",
            "Negotiate pricing and contract terms with procurement teams",
            "Partner with solutions engineers on technical evaluations",
            "Hand off new customers smoothly to the success team",
            "Consistently meet or exceed quarterly quota",
        ),
        90_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
    Family(
        "marketing_manager", "business",
        ("Marketing Manager", "Product Marketing Manager", "Growth Marketing Manager"),
        ("marketing manager", "product marketing manager", "growth marketer", "marketing"),
        "marketing", "marketers",
        ("SEO", "SEM", "HubSpot", "Google Analytics", "Marketo", "Google Ads", "paid social",
         "email marketing", "copywriting", "Braze", "content strategy"),
        (
            "Plan and run multi-channel campaigns that generate pipeline",
            "Own positioning and messaging for a product line",
            "Manage the marketing budget and report on return on spend",
            "Launch new features with sales enablement and customer communication",
            "Run experiments on landing pages and nurture flows",
            "Work with agencies and freelancers on creative",
            "Analyze campaign performance and shift spend to what works",
            "Build the editorial calendar and grow organic traffic",
            "Partner with sales on account-based programs",
        ),
        110_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
    Family(
        "recruiter", "business",
        ("Recruiter", "Technical Recruiter", "Talent Acquisition Partner"),
        ("recruiter", "technical recruiter", "talent acquisition", "recruiting"),
        "recruiting", "recruiters",
        ("LinkedIn Recruiter", "Greenhouse", "Lever", "Workday", "Boolean search", "Gem",
         "Ashby", "employer branding", "offer negotiation", "technical sourcing"),
        (
            "Partner with hiring managers to define roles and interview plans",
            "Find and engage passive candidates for hard-to-fill roles",
            "Guide candidates through the process and give them a great experience",
            "Screen candidates and assess fit for the team",
            "Extend offers and close candidates",
            "Report on funnel metrics and time to hire",
            "Improve interview training and calibration for interviewers",
            "Build diverse pipelines by reaching out to new communities",
            "Represent the company at career fairs and meetups",
        ),
        85_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
    Family(
        "financial_analyst", "business",
        ("Financial Analyst", "FP&A Analyst", "Finance Analyst"),
        ("financial analyst", "FP&A analyst", "finance analyst", "FP&A"),
        "financial planning and analysis", "financial analysts",
        ("Excel", "financial modeling", "NetSuite", "Anaplan", "variance analysis", "SQL",
         "Power BI", "Adaptive Planning", "Hyperion", "GAAP accounting"),
        (
            "Build the annual operating plan and monthly forecasts",
            "Analyze actuals against budget and explain the differences",
            "Partner with department leaders on headcount and spend",
            "Prepare board and investor reporting materials",
            "Model the financial impact of pricing changes and new investments",
            "Improve the month-end close process with finance operations",
            "Own unit economics reporting for each product line",
            "Automate recurring reports and reduce manual work",
            "Support fundraising and due diligence requests",
        ),
        90_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
    Family(
        "customer_success_manager", "business",
        ("Customer Success Manager", "Customer Success Specialist", "Client Success Manager"),
        ("customer success manager", "CSM", "customer success", "client success manager"),
        "customer success", "customer success managers",
        ("Salesforce", "Gainsight", "Zendesk", "ChurnZero", "Totango", "HubSpot", "Intercom",
         "SQL", "Vitally"),
        (
            "Own a book of customers and drive adoption and renewal",
            "Run business reviews that show customers the value they get",
            "Spot accounts at risk early and build plans to save them",
            "Identify expansion opportunities and partner with sales to close them",
            "Get new customers set up and to first value quickly",
            "Share customer feedback with product and engineering",
            "Build playbooks and help content that scale the team",
            "Be the trusted advisor for customers' executive sponsors",
            "Track health scores and act on the signals",
        ),
        85_000,
        technical=False,
        levels=BUSINESS_LEVELS,
    ),
)

# Skills any posting of the kind may add; disjoint from every family's pool.
GENERIC_TECH_SKILLS = ("Git", "GitHub", "REST APIs", "shell scripting", "YAML")
GENERIC_BUSINESS_SKILLS = ("Google Workspace", "Microsoft Office", "Slack", "Notion", "Loom")

# By cluster, or by family key where a cluster has no common teams.
TEAMS = {
    "data": ("Data Platform", "Insights", "Analytics", "Data Foundations", "Business Intelligence"),
    "ml": ("Machine Learning", "Personalization", "Search & Ranking", "AI Platform", "Applied AI"),
    "software": ("Core Platform", "Payments", "Growth", "Checkout", "Developer Experience",
                 "Devices"),
    "infra": ("Infrastructure", "Reliability", "Cloud Platform", "Security",
              "Production Engineering"),
    "product": ("Product", "Design", "Customer Experience", "Platform Products"),
    # Business teams differ too much between families to share a pool.
    "account_executive": ("Sales", "Enterprise Sales", "Revenue"),
    "marketing_manager": ("Marketing", "Growth Marketing", "Product Marketing"),
    "recruiter": ("Talent Acquisition", "Recruiting", "People"),
    "financial_analyst": ("Finance", "FP&A", "Strategic Finance"),
    "customer_success_manager": ("Customer Success", "Customer Operations", "Account Management"),
}
ROLE_GOALS = {
    "data": ("build the data foundations behind every decision we make",
             "turn raw data into insights people trust",
             "make data easy to find, understand and use"),
    "ml": ("bring machine learning to the heart of our product",
           "make our product smarter for every customer",
           "take models from promising idea to dependable production system"),
    "software": ("build the product our customers love",
                 "ship software that is fast, reliable and a joy to use",
                 "scale our product to the next million users"),
    "infra": ("keep our platform secure, reliable and fast",
              "give every engineer a paved road to production",
              "make outages rare, short and boring"),
    "product": ("shape what we build and why",
                "turn customer problems into products people love",
                "keep our teams focused on the right things at the right time"),
    "business": ("grow our business and serve customers well",
                 "make every part of the business run a little better",
                 "scale the company sustainably"),
}

# --- places -------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str
    region: str  # state code, province or country
    country: str
    weight: float  # how often companies have offices there
    high_cost: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}, {self.region}"


CITIES: tuple[City, ...] = (
    City("Seattle", "WA", "US", 3.0, True),
    City("San Francisco", "CA", "US", 3.5, True),
    City("San Jose", "CA", "US", 1.5, True),
    City("Los Angeles", "CA", "US", 2.0, True),
    City("San Diego", "CA", "US", 1.2),
    City("Irvine", "CA", "US", 0.8),
    City("Portland", "OR", "US", 1.0),
    City("Denver", "CO", "US", 1.5),
    City("Boulder", "CO", "US", 0.6),
    City("Austin", "TX", "US", 2.5),
    City("Dallas", "TX", "US", 1.5),
    City("Houston", "TX", "US", 1.0),
    City("Phoenix", "AZ", "US", 1.0),
    City("Salt Lake City", "UT", "US", 0.8),
    City("Chicago", "IL", "US", 2.5),
    City("Minneapolis", "MN", "US", 1.0),
    City("Detroit", "MI", "US", 0.7),
    City("Columbus", "OH", "US", 0.8),
    City("Pittsburgh", "PA", "US", 0.8),
    City("Philadelphia", "PA", "US", 1.0),
    City("New York", "NY", "US", 3.5, True),
    City("Boston", "MA", "US", 2.5, True),
    City("Washington", "DC", "US", 1.5, True),
    City("Baltimore", "MD", "US", 0.6),
    City("Atlanta", "GA", "US", 1.8),
    City("Miami", "FL", "US", 1.2),
    City("Raleigh", "NC", "US", 1.0),
    City("Charlotte", "NC", "US", 0.8),
    City("Nashville", "TN", "US", 0.8),
    City("Kansas City", "MO", "US", 0.6),
    City("St. Louis", "MO", "US", 0.6),
    City("Madison", "WI", "US", 0.5),
    City("Boise", "ID", "US", 0.4),
    City("Toronto", "ON", "Canada", 1.0),
    City("Vancouver", "BC", "Canada", 0.6),
    City("London", "UK", "UK", 1.2, True),
    City("Dublin", "Ireland", "Ireland", 0.6),
    City("Berlin", "Germany", "Germany", 0.6),
    City("Amsterdam", "Netherlands", "Netherlands", 0.5),
    City("Bangalore", "India", "India", 0.6),
)
REMOTE_REGIONS = {"US": "US", "Canada": "Canada", "UK": "UK", "Ireland": "Europe",
                  "Germany": "Europe", "Netherlands": "Europe", "India": "India"}
# Currency symbol and pay relative to the US figure.
CURRENCIES = {"US": ("$", 1.0), "Canada": ("CA$", 1.05), "UK": ("£", 0.62), "Ireland": ("€", 0.72),
              "Germany": ("€", 0.68), "Netherlands": ("€", 0.68), "India": ("₹", 22.0)}

# --- companies ----------------------------------------------------------------------


@dataclass(frozen=True)
class Industry:
    label: str
    products: tuple[str, ...]
    customers: tuple[str, ...]
    missions: tuple[str, ...]
    name_suffixes: tuple[str, ...]
    volume: str  # "We process {volume} every month" / "We handle ..."


INDUSTRIES: tuple[Industry, ...] = (
    Industry("financial technology",
             ("a payments platform", "spend management software", "a modern lending platform",
              "a mobile banking app"),
             ("small businesses", "finance teams", "credit unions", "freelancers"),
             ("make money simple for every small business", "open up fair access to credit",
              "give finance teams back their time"),
             ("Pay", "Capital", "Ledger", "Finance"), "billions of dollars in payments"),
    Industry("healthcare",
             ("software that helps clinics coordinate patient care", "a virtual care platform",
              "a patient scheduling platform"),
             ("hospitals", "clinics", "health plans"),
             ("make quality care accessible to everyone",
              "give clinicians more time with patients"),
             ("Health", "Care", "Medical"), "millions of patient visits"),
    Industry("e-commerce",
             ("an online storefront platform", "a marketplace for independent brands",
              "checkout and fulfillment software"),
             ("online merchants", "independent brands", "retailers"),
             ("help independent brands compete online",
              "make buying and selling online effortless"),
             ("Commerce", "Market", "Goods"), "millions of orders"),
    Industry("logistics",
             ("a freight visibility platform", "route planning software",
              "warehouse automation software"),
             ("shippers", "carriers", "warehouse operators"),
             ("make supply chains faster and more resilient", "move goods with less waste"),
             ("Logistics", "Freight", "Transit"), "millions of shipments"),
    Industry("climate technology",
             ("software that helps utilities manage the grid", "a carbon accounting platform",
              "energy management software for buildings"),
             ("utilities", "building owners", "manufacturers"),
             ("accelerate the transition to clean energy", "help every company reach net zero"),
             ("Energy", "Grid", "Solar"), "terabytes of energy data"),
    Industry("cybersecurity",
             ("an identity security platform", "threat detection software",
              "a secure access platform"),
             ("security teams", "IT departments", "banks and governments"),
             ("keep organizations safe from attackers", "make strong security the default"),
             ("Security", "Shield", "Defense"), "trillions of security events"),
    Industry("education technology",
             ("an online learning platform", "classroom software for teachers",
              "a tutoring marketplace"),
             ("teachers", "schools", "universities"),
             ("make great education available to every learner", "help every student thrive"),
             ("Learning", "Academy", "Education"), "millions of lessons"),
    Industry("gaming",
             ("multiplayer games played on every platform", "tools for game studios"),
             ("players", "game studios"),
             ("bring people together through play",),
             ("Games", "Studios", "Interactive"), "billions of game sessions"),
    Industry("insurance",
             ("a digital insurance platform", "claims automation software"),
             ("insurers", "homeowners", "small businesses"),
             ("make insurance simple and fair", "help people recover faster when things go wrong"),
             ("Insurance", "Assurance", "Mutual"), "hundreds of thousands of claims"),
    Industry("real estate technology",
             ("a property management platform", "software for home buyers and agents"),
             ("property managers", "real estate agents", "landlords"),
             ("make finding and managing a home easier",),
             ("Homes", "Properties", "Realty"), "millions of rent payments"),
    Industry("travel",
             ("a travel booking platform", "corporate travel management software"),
             ("travelers", "travel managers", "hotels"),
             ("make travel effortless", "help people see more of the world"),
             ("Travel", "Journeys", "Voyage"), "millions of bookings"),
    Industry("HR technology",
             ("payroll and benefits software", "a people management platform"),
             ("HR teams", "growing companies"),
             ("help companies take care of their people",),
             ("People", "Workforce", "HR"), "billions of dollars in payroll"),
    Industry("developer tools",
             ("a platform that helps engineering teams ship faster", "an observability platform",
              "an API management platform"),
             ("engineering teams", "developers", "platform teams"),
             ("help developers do their best work", "make software delivery fast and safe"),
             ("Labs", "Systems", "Software", "Technologies"), "billions of API calls"),
    Industry("retail",
             ("in-store and online retail experiences", "a grocery delivery service"),
             ("shoppers", "store associates", "consumer brands"),
             ("make everyday shopping easier",),
             ("Retail", "Outfitters", "Supply"), "millions of purchases"),
    Industry("biotechnology",
             ("a drug discovery platform", "lab automation software"),
             ("pharmaceutical companies", "research labs"),
             ("bring new medicines to patients faster",),
             ("Bio", "Therapeutics", "Genomics"), "petabytes of experimental data"),
    Industry("automotive",
             ("software for connected vehicles", "an electric vehicle charging network"),
             ("drivers", "fleet operators", "automakers"),
             ("make transportation cleaner and safer",),
             ("Motors", "Mobility", "Auto"), "millions of miles of driving data"),
    Industry("advertising technology",
             ("a customer engagement platform", "a privacy-first advertising platform"),
             ("marketers", "brands", "publishers"),
             ("help brands build real relationships with customers",),
             ("Media", "Digital", "Engage"), "billions of ad impressions"),
    Industry("data and analytics",
             ("a business intelligence platform", "customer data software"),
             ("analysts", "operations teams", "data teams"),
             ("help every company make better decisions with data",),
             ("Analytics", "Insights", "Data"), "trillions of rows of data"),
)

COMPANY_NAME_PARTS = (
    "Northwind", "Bluepeak", "Cedarline", "Ironbridge", "Lumina", "Brightwave", "Redwood",
    "Silverleaf", "Harborview", "Summit", "Quantix", "Tidewater", "Evergreen", "Copperfield",
    "Starling", "Oakridge", "Meridian", "Clearwater", "Foxglove", "Granite", "Halcyon",
    "Juniper", "Kestrel", "Lakeshore", "Maplewood", "Nimbus", "Orchard", "Pinecrest",
    "Riverstone", "Sagebrush", "Tandem", "Upland", "Vantage", "Willow", "Zephyr", "Beacon",
    "Cobalt", "Driftwood", "Ember", "Fairway", "Glacier", "Highline", "Indigo", "Keystone",
    "Lantern", "Mosaic", "Northstar", "Onyx", "Prairie", "Quarry", "Rookery", "Sterling",
    "Trellis", "Verdant", "Wayfinder", "Yarrow", "Alder", "Bramble", "Canopy", "Daybreak",
    "Elmstead", "Fernhill", "Goldcrest", "Hearth", "Ionic", "Larkspur", "Monarch", "Nova",
    "Orbital", "Pioneer", "Quill", "Ridgeline", "Solstice", "Terrace", "Unity", "Vista",
)
FUNDING = (
    "backed by {investors}",
    "a profitable, employee-owned company",
    "publicly traded and growing",
    "venture-backed, having raised a Series {series} led by {investor}",
    "bootstrapped and profitable since our second year",
    "a subsidiary of a larger group, with the autonomy of a startup",
)
INVESTORS = (
    "Greylock Fields", "Sequoia Ridge Partners", "Foundry Lane Ventures", "Atlas Peak Capital",
    "Harbor Light Ventures", "Crescent Growth", "Blue Mesa Partners", "Tall Pines Capital",
    "First Light Ventures", "Riverbend Equity",
)

# --- posting sections ---------------------------------------------------------------

HEADERS = {
    "about": ("About us", "About {company}", "Who we are", "Company overview"),
    "values": ("Our values", "How we work", "What we believe"),
    "role": ("About the role", "The role", "Role overview", "The opportunity"),
    "team": ("The team", "About the team", "Meet the team"),
    "responsibilities": ("What you'll do", "What you will do", "Responsibilities",
                         "Your responsibilities", "In this role, you will"),
    "stack": ("Our tech stack", "Tools and technologies", "Our stack"),
    "required": ("Required qualifications", "What you'll bring", "Minimum qualifications",
                 "Requirements", "You might be a fit if you have"),
    "preferred": ("Preferred qualifications", "Nice to have", "Bonus points",
                  "Preferred experience"),
    "why": ("Why join us", "Why you'll love working here", "Why {company}"),
    "details": ("Job details", "Details", "The basics"),
    "benefits": ("Benefits", "Benefits and perks", "Perks & benefits", "Our benefits"),
    "interview": ("Interview process", "Our hiring process", "What to expect when you apply"),
    "success": ("What success looks like", "Your first year", "How we will measure success"),
    "growth": ("Growth and development", "How you will grow", "Learning at {company}"),
    "workplace": ("How we work together", "Working here", "Our workplace"),
    "eeo": ("Equal opportunity", "Our commitment", "Diversity and inclusion"),
}

ABOUT_LEADS = (
    "{company} builds {product} for {customers}.",
    "At {company}, we make {product} that {customers} rely on every day.",
    "{company} is {a_industry} company building {product}.",
    "Founded in {founded}, {company} builds {product} for {customers}.",
    "{company} is on a mission to change how {customers} work, starting with {product}.",
)
MISSIONS = (
    "Our mission is to {mission}.",
    "We exist to {mission}.",
    "Everything we do comes back to one goal: to {mission}.",
    "We started {company} to {mission}, and that is still what drives us.",
)
OFFICES = (
    "We have offices in {offices}.",
    "Our teams work from offices in {offices}, as well as remotely.",
    "Today we have hubs in {offices}.",
    "You will find our people in {offices} and in home offices across the country.",
    "We are growing quickly, with teams in {offices}.",
)
ABOUT_MORE = (
    "We were founded in {founded} and now employ {employees} people.",
    "We are a team of {employees} people across engineering, product, sales and operations.",
    "We are {funding}.",
    "More than {customer_count} {customers} use our products today.",
    "Last year we grew revenue by more than {growth}%.",
    "We were named one of the best places to work in {industry} by an independent survey.",
    "Our customers include some of the largest {customers} in North America and Europe.",
    "We believe great products come from small, empowered teams.",
    "We move quickly, but we care deeply about doing things the right way.",
    "Our culture is built on trust, candor and a bias for action.",
    "We are proud of a low-ego environment where the best idea wins.",
    "We invest heavily in the growth of our people, with clear career paths and regular feedback.",
    "Our leadership team has built and scaled companies in {industry} before.",
    "We handle {volume} every month for our customers.",
    "Our platform is used in more than {countries} countries.",
    "We take privacy seriously; our customers trust us with sensitive information.",
    "We are committed to building a team that reflects the customers we serve.",
    "The problems we work on are hard, and the impact is real.",
    "We publish an annual impact report and hold ourselves accountable to it.",
    "Industry analysts have recognized our product as a leader in its category.",
    "We are at an exciting stage: large enough to have real customers and revenue, small "
    "enough that every person shapes the company.",
    "Customer love is our north star, and our satisfaction scores are among the highest in "
    "the industry.",
    "We hold a company-wide offsite twice a year to plan, celebrate and get to know each other.",
    "Since {founded}, we have helped {customers} save millions of hours of manual work.",
    "We are headquartered in {hq}.",
    "Our board includes former operators from some of the best-known companies in {industry}.",
    "We are proud that most of our new customers come to us through referrals.",
    "Our founders started the company after seeing the problem first-hand.",
    "We recently launched a second product line, and demand has exceeded our plans.",
    "Our annual employee survey consistently shows high engagement and trust in leadership.",
)
VALUES = (
    "Customers first: we start with the problem, not the solution.",
    "Own the outcome: we take responsibility from idea to impact.",
    "Be candid and kind: honest feedback, delivered with care.",
    "Keep it simple: simple systems and processes scale.",
    "Learn fast: we run small experiments and adapt.",
    "Win together: we share credit and help each other.",
    "Write it down: clear documents beat long meetings.",
    "Act with integrity: we do the right thing when no one is watching.",
    "Think long term: we build for the next decade, not the next quarter.",
    "Include everyone: different perspectives make better decisions.",
    "Progress over perfection: we ship, listen and improve.",
    "Stay humble: we are always students of our craft.",
)
ROLE_LEADS = (
    "As {a_title} on the {team} team, you will {goal}.",
    "We are looking for {a_title} to join our {team} team and {goal}.",
    "{company} is hiring {a_title} to help {goal}.",
    "The {team} team is growing, and we need {a_title} who can {goal}.",
    "In this role you will join the {team} team as {a_title} and help {goal}.",
)
ROLE_MORE = (
    "You will report to the {manager} and work alongside {team_size} {plural}.",
    "This role has a direct impact on how {customers} experience our product.",
    "You will have real ownership from day one.",
    "In your first 90 days you will get to know our systems, ship your first project and meet "
    "the people you will work with most.",
    "The work is varied: some weeks are about deep focus, others about cross-team alignment.",
    "We value curiosity, clear communication and ownership over any single credential.",
    "You will collaborate daily with {other} and {other2}.",
    "You do not need to tick every box below; if the role excites you, we would love to hear "
    "from you.",
    "This is a new position created as part of our growth plan for the year.",
    "This is a backfill for a teammate who moved into a new role internally.",
    "Expect a mix of hands-on work and cross-functional collaboration.",
    "Success in this role means the {team} team ships with more confidence and less friction.",
)
MANAGERS = ("Head of {team}", "Director of {team}", "{team} Lead", "VP of {team}")
TEAM_MORE = (
    "The {team} team is {team_size} people who care about craft and about each other.",
    "We work in two-week cycles with a short planning session and a demo at the end.",
    "We keep meetings to a minimum and write things down.",
    "Teammates come from backgrounds in {background}.",
    "We pair often and review each other's work with care.",
    "The team is spread across several time zones, so we rely on asynchronous communication.",
    "We celebrate wins together, and we treat mistakes as learning opportunities.",
    "Your manager holds weekly one-on-ones focused on growth, not status.",
    "The team owns its roadmap and has a direct line to leadership.",
    "We have a healthy balance of experienced and early-career teammates.",
)
BACKGROUNDS = (
    "consulting, startups and large tech companies",
    "academia, finance and public service",
    "agencies, nonprofits and enterprise software",
    "retail, healthcare and government",
)
COLLABORATION = (
    "Partner with {other} to define requirements and priorities",
    "Work closely with {other} and {other2} on shared goals",
    "Collaborate with {other} to turn ideas into shipped work",
    "Support {other} with the tools and context they need",
    "Join planning sessions with {other} and product leadership",
    "Pair with {other} on cross-team projects",
)
TECH_RESPONSIBILITIES = (
    "Participate in code reviews and design reviews",
    "Write and maintain clear technical documentation",
    "Take part in a shared on-call rotation",
    "Help interview new teammates and get them up to speed",
    "Contribute to our engineering blog and internal tech talks",
    "Measure the impact of your work and share what you learn",
    "Write design documents for new systems and review those written by peers",
    "Keep dependencies current and pay down technical debt deliberately",
)
BUSINESS_RESPONSIBILITIES = (
    "Keep accurate records and share regular updates with your manager",
    "Contribute to team playbooks and best practices",
    "Represent the voice of the customer in cross-functional meetings",
    "Track your goals and report progress against them each month",
    "Help new teammates get up to speed quickly",
    "Look for ways to simplify processes and remove busywork",
)
SENIOR_RESPONSIBILITIES = (
    "Mentor junior {plural} and help them grow",
    "Set direction for the team and drive alignment across groups",
    "Lead large, ambiguous projects from start to finish",
    "Raise the bar for quality through reviews and by example",
)
ENTRY_RESPONSIBILITIES = (
    "Learn our systems quickly with the support of a dedicated mentor",
    "Take on well-scoped tasks and grow into larger projects",
    "Ask questions, share ideas and learn from experienced teammates",
)
STACK_LEADS = (
    "We work mostly with {skills}.",
    "Day to day, the team uses {skills}.",
    "Our stack includes {skills}.",
)
STACK_MORE = (
    "Code lives in a monorepo with automated checks on every change.",
    "Infrastructure changes go through the same review as application code.",
    "We pick proven technology unless there is a strong reason not to.",
    "You do not need to know every tool on day one; we care more about fundamentals.",
    "We retire tools as readily as we adopt them, so the stack stays small.",
)
YEARS_REQUIRED = (
    "{years}+ years of experience in {field}",
    "At least {years} years of professional experience in {field}",
    "{years}+ years working in {field}, or equivalent experience",
)
ENTRY_YEARS_REQUIRED = (
    "0-2 years of experience in {field}, including internships",
    "Some experience in {field} through internships, projects or a first job",
    "A degree in a relevant field or equivalent practical experience in {field}",
)
SKILL_REQUIRED = (
    "Strong experience with {skills}",
    "Hands-on experience with {skills}",
    "Proficiency in {skills}",
    "Production experience using {skills}",
    "Solid working knowledge of {skills}",
    "Comfort using {skills} in a professional setting",
)
REQUIRED_MORE = (
    "Excellent written and verbal communication skills",
    "A track record of delivering projects on time with minimal supervision",
    "Ability to explain complex topics to non-specialists",
    "Comfort working with ambiguity and changing priorities",
    "A bachelor's degree in a related field, or equivalent experience",
    "Strong problem-solving skills and attention to detail",
    "Experience working in a fast-paced, cross-functional environment",
    "A collaborative mindset and willingness to help teammates",
    "Authorization to work in the country of this role",
    "Ability to prioritize among competing requests",
)
TECH_REQUIRED_MORE = (
    "Solid grasp of computer science fundamentals",
    "Experience operating systems in production",
    "Experience writing clean, tested, maintainable code",
)
SENIOR_REQUIRED_MORE = (
    "Experience leading projects across multiple teams",
    "A history of mentoring others and raising the bar for your team",
)
SKILL_PREFERRED = (
    "Familiarity with {skills}",
    "Exposure to {skills}",
    "Experience with {skills} is a plus",
    "Bonus: {skills}",
)
PREFERRED_MORE = (
    "Experience in the {industry} industry",
    "Experience at a high-growth startup",
    "An advanced degree in a related field",
    "Experience working with international teams",
    "Familiarity with privacy and compliance requirements",
    "Speaking or writing about your work publicly",
    "Experience working with enterprise customers",
    "A habit of automating repetitive work",
    "Experience building a function from scratch",
)
TECH_PREFERRED_MORE = (
    "Contributions to open-source projects",
    "Experience with large-scale distributed systems",
)
WHY_JOIN = (
    "Work on problems that matter to {customers} everywhere",
    "Join at a stage where your work shapes the company",
    "Learn from experienced colleagues who love to teach",
    "A culture of ownership, with real trust and autonomy",
    "Clear career paths for both individual contributors and managers",
    "A generous learning budget and time to use it",
    "Transparent leadership with monthly all-hands and open Q&A",
    "Flexible hours that respect your life outside work",
    "A product customers actually love",
    "Colleagues who are kind, sharp and humble",
)
BENEFITS = (
    "Medical, dental and vision insurance with {premium}% of premiums covered for you and your "
    "family",
    "Retirement plan with a {match}% company match",
    "{pto} days of paid time off plus company holidays",
    "Sixteen weeks of paid parental leave for all parents",
    "A yearly learning and development budget",
    "Home office stipend for remote and hybrid employees",
    "Monthly wellness stipend for gym memberships, classes or meditation apps",
    "Equity in a growing company",
    "Mental health support through a dedicated provider",
    "Commuter benefits",
    "Catered lunches on office days",
    "Company-paid life and disability insurance",
    "Fertility and family-forming benefits",
    "An annual company retreat",
    "A paid volunteer day each quarter",
    "Employee resource groups and mentorship programs",
    "A paid sabbatical after five years",
    "Pet-friendly offices",
    "A new laptop and the equipment you need to do your best work",
    "Flexible working hours",
    "Employee stock purchase plan",
    "Tuition reimbursement for job-related courses",
    "Dependent care flexible spending account",
    "Annual bonus based on company and individual performance",
    "Subsidized childcare",
    "Free access to coaching and career development sessions",
    "Legal and financial planning services",
    "Phone and internet reimbursement",
    "Relocation assistance where applicable",
    "Generous referral bonuses",
    "A week-long company-wide winter break",
    "Paid time off to vote and for jury duty",
    "Adoption and surrogacy assistance",
    "Annual health screening and flu shots at the office",
    "Discounts on our products and partner services",
    "Bereavement leave and support for caregivers",
    "A charitable donation match of up to a set amount each year",
)
INTERVIEW_STEPS = (
    "A {minutes}-minute introductory call with our recruiting team",
    "A conversation with the hiring manager about your experience and goals",
    "{exercise}",
    "A final round of {rounds} interviews with future teammates, including a values interview",
    "Reference checks and an offer, usually within a week of the final round",
)
TECH_EXERCISES = (
    "A practical exercise based on a real problem we have solved",
    "A paid take-home project, followed by a discussion of your approach",
    "A pair-programming session on a realistic task",
)
BUSINESS_EXERCISES = (
    "A case study presentation to a small panel",
    "A role play based on a real customer situation",
    "A short written exercise followed by a discussion",
)
EEO_LEADS = (
    "{company} is an equal opportunity employer. We do not discriminate on the basis of race, "
    "religion, color, national origin, sex, sexual orientation, gender identity, age, disability, "
    "veteran status or any other protected characteristic.",
    "We are proud to be an equal opportunity employer and value diversity at our company. All "
    "qualified applicants will receive consideration for employment without regard to race, "
    "color, religion, sex, sexual orientation, gender identity, national origin, disability or "
    "veteran status.",
    "{company} is committed to building a diverse and inclusive workplace and is an equal "
    "opportunity employer. Employment decisions are based on merit, qualifications and business "
    "need.",
    "{company} is an equal opportunity employer. We welcome applicants of every background and "
    "make hiring decisions without regard to any characteristic protected by law.",
)
EEO_MORE = (
    "If you need a reasonable accommodation during the application or interview process, "
    "please contact our recruiting team.",
    "We will consider qualified applicants with arrest and conviction records in accordance "
    "with applicable fair chance laws.",
    "This position may require a background check after an offer is made.",
    "The pay range reflects the base pay we expect to offer; final pay depends on experience, "
    "skills and location, and does not include bonus, equity or benefits.",
    "We collect and process personal data from applicants in line with our applicant privacy "
    "notice.",
    "Please note that we will never ask for payment or banking details during the hiring process.",
    "Applications are reviewed on a rolling basis, and this posting will remain open until the "
    "role is filled.",
    "We encourage people from underrepresented groups to apply, even if they do not meet every "
    "qualification.",
)

SUCCESS_MILESTONES = (
    "In your first month, you will meet your teammates and key partners and learn how our "
    "product and systems fit together",
    "By the end of your first quarter, you will own a meaningful piece of the team's roadmap",
    "Within six months, you will have shipped work that customers notice and that the team "
    "builds on",
    "After a year, you will be a go-to person for your area and help shape the team's plans",
    "Throughout, you will give and receive regular, specific feedback",
    "You will leave every project better documented than you found it",
)
GROWTH = (
    "Every employee gets a yearly learning budget for courses, conferences and books.",
    "We run internal workshops on writing, leadership and the craft of the job.",
    "Career levels are documented and public inside the company, so expectations are clear.",
    "Promotions are reviewed twice a year by a calibrated committee, not decided by one person.",
    "Many of our leaders started here in individual contributor roles.",
    "You can move between teams once you have been in your role for a year.",
    "We pair every new hire with a buddy outside their team for the first three months.",
    "Mentorship circles meet monthly and are open to everyone.",
)
WORKPLACE = (
    "We plan our weeks around focus time and keep Wednesdays free of recurring meetings.",
    "Important decisions are written up in short documents that anyone can comment on.",
    "Our offices have quiet rooms, phone booths and plenty of space for collaboration.",
    "Teams meet in person a few times a year for planning and celebration, with travel covered.",
    "We respect working hours across time zones and avoid messages late at night.",
    "Leaders share the company's numbers and plans openly at monthly all-hands meetings.",
    "We run a short engagement survey every quarter and act on what we hear.",
    "Everyone takes part in customer calls from time to time, whatever their role.",
)

# --- details lines ------------------------------------------------------------------

ONSITE_LOCATIONS = (
    "Location: {city} (On-site)",
    "Location: {city}, on-site five days a week",
    "Location: {city} (In office)",
)
HYBRID_LOCATIONS = (
    "Location: {city} (Hybrid, {days} days in office)",
    "Location: {city} (Hybrid: {days} days a week in the office)",
    "Location: {city}, hybrid ({days} office days per week)",
)
REMOTE_LOCATIONS = (
    "Location: Remote ({region})",
    "Location: Remote ({region}), with quarterly team meetups in {city}",
    "Location: Remote ({region} time zones); our nearest hub is {city}",
)
EMPLOYMENT_TYPES = ("Employment type: Full-time", "Employment type: Full-time, permanent")
LEVEL_LINES = ("Level: {label}", "Seniority: {label}", "Career level: {label} ({code})")
SALARY_LINES = (
    "Salary range: {low} - {high} per year",
    "Base salary range: {low} to {high} annually",
    "Pay range: {low}-{high} a year",
    "Compensation range: {low} - {high} base, plus equity and bonus",
)

# --- queries ------------------------------------------------------------------------

QUERY_PREFIXES = ("", "", "", "find me ", "show me ", "looking for ", "any ", "I want ",
                  "search ", "hiring: ")
QUERY_JOB_NOUNS = ("jobs", "jobs", "roles", "positions", "openings", "opportunities")
QUERY_CITY_PHRASES = ("in {city}", "in the {city} area", "near {city}", "around {city}",
                      "in {label}", "based in {city}")
QUERY_REMOTE_SUFFIXES = ("(remote)", "that are fully remote", "work from home", "remote only")
QUERY_SKILL_PHRASES = ("using {skill}", "with {skill}", "{skill} experience", "that use {skill}",
                       "requiring {skill}", "with {skill} skills")
